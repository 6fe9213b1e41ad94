/** `fracta board --open`: the system's opener, by array (never a shell); a machine without one just has the printed URL. */
import { execa } from 'execa';

export function openInBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  execa(opener, [url], { stdio: 'ignore', detached: true, reject: false, cleanup: false }).then(
    (result) => {
      if (result.failed) process.stderr.write(`fracta board: could not open a browser (${opener}): open the URL above yourself\n`);
    },
    () => undefined,
  );
}
