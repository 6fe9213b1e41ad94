import fs from 'node:fs';
import type { CapturedOutput } from '../host/host.js';

const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/**
 * Reads `length` bytes at `position` of a log that is a regular file; nothing for anything else. The
 * run folder is writable by the child: a FIFO in the log's place would block a read for ever, and a
 * link would show another file as the run's output.
 */
function readRegular(path: string, length: number, position: number): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(path, FLAGS);
  } catch {
    return Buffer.alloc(0);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return Buffer.alloc(0);
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const got = fs.readSync(fd, buffer, read, length - read, position + read);
      if (got === 0) break;
      read += got;
    }
    return buffer.subarray(0, read);
  } finally {
    fs.closeSync(fd);
  }
}

function sizeOf(path: string): number {
  try {
    const stat = fs.lstatSync(path);
    return stat.isFile() ? stat.size : 0;
  } catch {
    return 0; // no output at all
  }
}

/** A log file seen through the CapturedOutput interface: reads are bounded, never the whole of it. */
export function capturedFile(path: string): CapturedOutput {
  const bytes = sizeOf(path);
  return {
    path,
    bytes,
    readText(maxBytes) {
      if (bytes > maxBytes) return null;
      return bytes === 0 ? '' : readRegular(path, bytes, 0).toString('utf8');
    },
    tail(maxChars) {
      if (bytes === 0) return '';
      // UTF-8 takes at most 4 bytes a character.
      const length = Math.min(bytes, maxChars * 4);
      const buffer = readRegular(path, length, bytes - length);
      let start = 0;
      // Skip a character cut in half at the start of the window.
      while (start < buffer.length && (buffer[start]! & 0xc0) === 0x80) start++;
      const text = buffer.subarray(start).toString('utf8');
      if (text.length <= maxChars) return text;
      const cut = text.slice(text.length - maxChars);
      // Do not start with the second half of a surrogate pair.
      return /^[\udc00-\udfff]/.test(cut) ? cut.slice(1) : cut;
    },
  };
}
