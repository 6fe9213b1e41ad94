import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The .bin of fracta's own install. In a clone it holds the agent CLIs fracta pins as dev
 * dependencies (claude, codex, gemini, opencode), which a user who runs `node dist/cli.js` expects
 * fracta to find; an npm install of fracta has none there. It is as trusted as fracta's own code.
 */
const OWN_BINS = [
  fileURLToPath(new URL('../../node_modules/.bin/', import.meta.url)),
  // opencode's binary comes in a per-platform package that declares no bin, so it is in no .bin.
  fileURLToPath(new URL(`../../node_modules/opencode-${process.platform}-${process.arch}/bin/`, import.meta.url)),
];

/**
 * Where `command` would be found by exec with this PATH (then, failing that, in fracta's own
 * node_modules/.bin), or null. A path with a slash is taken as is.
 */
export function findCommand(command: string, pathVariable: string | undefined, cwd: string): string | null {
  if (command.includes('/')) {
    const file = path.resolve(cwd, command);
    return isExecutable(file) ? file : null;
  }
  for (const dir of [...(pathVariable ?? '').split(path.delimiter), ...OWN_BINS]) {
    if (!dir) continue;
    const file = path.join(dir, command);
    if (isExecutable(file)) return file;
  }
  return null;
}
