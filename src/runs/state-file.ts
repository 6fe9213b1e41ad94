/**
 * Reading fracta's own small state files (records, leases, markers), which live where child agents
 * can write. A FIFO put in a record's place would block a plain read for ever (on the main thread,
 * for the synchronous reads), a link would read some other file, and a file of gigabytes would be
 * read whole: so a state file is opened without following a link and without blocking, must be a
 * regular file, and is read only up to a bound.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';

/** No record fracta writes comes near this (its output is bounded to 20,000 characters). */
export const MAX_STATE_FILE_BYTES = 8 * 1024 * 1024;

const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Why the file is not one fracta could have written, or undefined when it may be read. */
function refusal(stat: fs.Stats, max: number): string | undefined {
  if (!stat.isFile()) return 'not a regular file';
  if (stat.size > max) return `${stat.size} bytes, more than fracta ever writes there (${max})`;
  return undefined;
}

/** An error with the file system's code where there is one (ENOENT stays ENOENT), else EBADSTATE. */
function stateError(file: string, reason: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${file} is ${reason}`), { code: 'EBADSTATE' });
}

export function readStateFileSync(file: string, max = MAX_STATE_FILE_BYTES): string {
  let fd: number;
  try {
    fd = fs.openSync(file, FLAGS);
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
