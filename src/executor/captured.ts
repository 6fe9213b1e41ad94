import fs from 'node:fs';
import type { CapturedOutput } from '../host/host.js';

/** A log file seen through the CapturedOutput interface: reads are bounded, never the whole of it. */
export function capturedFile(path: string): CapturedOutput {
  let bytes = 0;
  try {
    bytes = fs.statSync(path).size;
  } catch {
    // no output at all
  }
  return {
    path,
    bytes,
    readText(maxBytes) {
      if (bytes > maxBytes) return null;
      return bytes === 0 ? '' : fs.readFileSync(path, 'utf8');
    },
    tail(maxChars) {
      if (bytes === 0) return '';
      // UTF-8 takes at most 4 bytes a character.
      const length = Math.min(bytes, maxChars * 4);
      const buffer = Buffer.alloc(length);
      const fd = fs.openSync(path, 'r');
      try {
        fs.readSync(fd, buffer, 0, length, bytes - length);
      } finally {
        fs.closeSync(fd);
      }
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
