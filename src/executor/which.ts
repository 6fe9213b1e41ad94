import fs from 'node:fs';
import path from 'node:path';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Where `command` would be found by exec with this PATH, or null. A path with a slash is taken as is. */
export function findCommand(command: string, pathVariable: string | undefined, cwd: string): string | null {
  if (command.includes('/')) {
    const file = path.resolve(cwd, command);
    return isExecutable(file) ? file : null;
  }
  for (const dir of (pathVariable ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, command);
    if (isExecutable(file)) return file;
  }
  return null;
}
