/**
 * Reading a run's stdout and stderr logs. The path comes from the run id, never from the record,
 * and only a regular file is opened (not a link, not a FIFO): a child can rewrite records and its
 * run folder to name any file.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { RunStore } from './store.js';

export type LogStream = 'stdout' | 'stderr';

export interface LogChunk {
  readonly text: string;
  readonly offset: number;
  readonly next_offset: number;
  readonly total_bytes: number;
}

/** The run's log opened for reading, or undefined when there is none. */
export async function openRunLog(store: RunStore, runId: string, stream: LogStream): Promise<fsp.FileHandle | undefined> {
  const file = stream === 'stdout' ? store.stdoutPath(runId) : store.stderrPath(runId);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    return undefined;
  }
  return handle;
}

/** A slice of the run's log, for callers that page through a large output. */
export async function readRunLog(store: RunStore, runId: string, stream: LogStream, offset: number, maxBytes: number): Promise<LogChunk> {
  const handle = await openRunLog(store, runId, stream);
  if (!handle) return { text: '', offset: 0, next_offset: 0, total_bytes: 0 };
  try {
    const total = (await handle.stat()).size;
    const start = Math.min(Math.max(0, offset), total);
    const length = Math.min(maxBytes, total - start);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, start);
    return { text: buffer.toString('utf8'), offset: start, next_offset: start + length, total_bytes: total };
  } finally {
    await handle.close();
  }
}
