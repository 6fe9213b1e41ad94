/**
 * What every backend does with a child's output: mask secrets before anything keeps it, split it
 * into lines for a parser as it arrives, and append it to a log file without holding it in memory.
 */
import fs from 'node:fs';
import { FractaError, isNoSpace } from '../errors.js';
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

/**
 * Copies the stream to the log file, and settles with the write error when there was one (a full
 * disk). After an error the rest of the stream is still read and dropped: a child whose pipe nobody
 * reads blocks on its next write, and the run would hang to its timeout.
 */
export async function toFile(stream: Readable | null, file: string): Promise<NodeJS.ErrnoException | undefined> {
  const sink = fs.createWriteStream(file, { flags: 'a', mode: 0o600 });
  let failed: NodeJS.ErrnoException | undefined;
  const closed = new Promise<void>((resolve) => sink.once('close', () => resolve()));
  sink.on('error', (error) => (failed ??= error));
  if (stream) {
    try {
      for await (const chunk of stream) {
        if (failed || sink.write(chunk)) continue;
        await new Promise<void>((resolve) => {
          const done = () => {
            sink.off('drain', done);
            sink.off('error', done);
            resolve();
          };
          sink.on('drain', done);
          sink.on('error', done);
        });
      }
    } catch {
      // the stream was destroyed (the run is over): what came is written
    }
  }
  sink.end();
  await closed;
  return failed;
}

/** What a failed log write means for the run: a full disk has its own code and the fix. */
export function outputFailure(error: NodeJS.ErrnoException, file: string): FractaError {
  if (isNoSpace(error)) {
    return new FractaError('disk_full', `the disk holding ${file} is full (${error.code}), so the run's output is cut short: free space there (or point FRACTA_HOME elsewhere), then run it again`);
  }
  return new FractaError('internal_error', `fracta could not write the run's output to ${file} (${error.message}), so it is cut short`);
}

/**
 * Whether the file system holding `file` has no room left: for a log the child writes itself, whose
 * write errors fracta never sees.
 */
export function diskFull(file: string): boolean {
  try {
    const stats = fs.statfsSync(file);
    return stats.bavail * stats.bsize < 4096;
  } catch {
    return false;
  }
}

/** Waits for `promise`, at most `ms` (a stream held open by a process that left its group, say). */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
