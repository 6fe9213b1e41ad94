import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** How to start this very fracta: the node binary and dist/cli.js, by absolute path. */
export function selfCommand(): { command: string; args: string[] } {
  const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli.js');
  return { command: process.execPath, args: [cli] };
}
