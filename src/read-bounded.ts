/**
 * Reading a small file that someone else may have put there: fracta's own state files (records,
 * leases, markers), which live where child agents can write, and fracta.yaml. A FIFO in a file's
 * place would block a plain read for ever (on the main thread, for the synchronous reads), a link
 * would read some other file, and a file of gigabytes (or /dev/zero) would be read whole: so the file
 * is opened without blocking (and, for state, without following a link), must be a regular file, and
 * is read only up to a bound.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';

/** No record fracta writes comes near this (its output is bounded to 20,000 characters). */
export const MAX_STATE_FILE_BYTES = 8 * 1024 * 1024;

const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

export interface ReadOptions {
  /** Follow a symbolic link (a config a person linked into place); state files never do. */
  readonly follow?: boolean;
}

const flags = (options: ReadOptions): number => (options.follow ? FLAGS & ~fs.constants.O_NOFOLLOW : FLAGS);

/** Why the file is not one fracta could have written, or undefined when it may be read. */
function refusal(stat: fs.Stats, max: number): string | undefined {
  if (!stat.isFile()) return 'not a regular file';
  if (stat.size > max) return `${stat.size} bytes, more than the ${max} such a file ever has`;
  return undefined;
}

/** An error with the file system's code where there is one (ENOENT stays ENOENT), else EBADSTATE. */
function stateError(file: string, reason: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${file} is ${reason}`), { code: 'EBADSTATE' });
}

export function readStateFileSync(file: string, max = MAX_STATE_FILE_BYTES, options: ReadOptions = {}): string {
  let fd: number;
  try {
    fd = fs.openSync(file, flags(options));
  } catch (error) {
    // O_NOFOLLOW on a link: ELOOP, which is a state error, not "missing".
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw stateError(file, 'a symbolic link');
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd);
    const reason = refusal(stat, max);
    if (reason) throw stateError(file, reason);
    const buffer = Buffer.alloc(stat.size);
    let read = 0;
    while (read < buffer.length) {
      const got = fs.readSync(fd, buffer, read, buffer.length - read, read);
      if (got === 0) break;
      read += got;
    }
    return buffer.toString('utf8', 0, read);
  } finally {
    fs.closeSync(fd);
  }
}

export async function readStateFile(file: string, max = MAX_STATE_FILE_BYTES): Promise<string> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, FLAGS);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw stateError(file, 'a symbolic link');
    throw error;
  }
  try {
    const stat = await handle.stat();
    const reason = refusal(stat, max);
    if (reason) throw stateError(file, reason);
    const buffer = Buffer.alloc(stat.size);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}
