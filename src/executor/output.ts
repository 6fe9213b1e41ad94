/**
 * What every backend does with a child's output: mask secrets before anything keeps it, split it
 * into lines for a parser as it arrives, and append it to a log file without holding it in memory.
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { Transform, type Readable } from 'node:stream';
import { StreamMasker } from '../secrets.js';

/** A line longer than this is passed on in pieces rather than held whole (the file has all of it). */
const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** Calls onLine for each complete line of the stream, as it arrives. */
export function splitLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return;
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (line: string) => {
    try {
      onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    } catch {
      // A listener's failure must not break the child's output.
    }
  };
  stream.on('data', (chunk: Buffer) => {
    pending += decoder.write(chunk);
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      emit(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
    if (pending.length > MAX_LINE_CHARS) {
      emit(pending);
      pending = '';
    }
  });
  stream.once('end', () => {
    pending += decoder.end();
    if (pending) emit(pending);
  });
}

/**
 * The child's output as fracta may keep it: with every secret masked before it reaches a file, a
 * parser or a result. Without secrets, the stream itself.
 */
export function masked(stream: Readable | null, secrets: readonly string[]): Readable | null {
  if (!stream || secrets.length === 0) return stream;
  const masker = new StreamMasker(secrets);
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, masker.push(chunk));
    },
    flush(done) {
      done(null, masker.end());
    },
  });
  stream.pipe(transform);
  stream.once('error', (error) => transform.destroy(error));
  return transform;
}

export function toFile(stream: Readable | null, file: string): Promise<void> {
  const sink = fs.createWriteStream(file, { flags: 'a', mode: 0o600 });
  if (!stream) {
    sink.end();
    return new Promise((resolve) => sink.once('close', () => resolve()));
  }
  return pipeline(stream, sink).catch(() => undefined);
}

/** Waits for `promise`, at most `ms` (a stream held open by a process that left its group, say). */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
