/**
 * One wait on several runs: a parent with five children makes one call, not five polls. `any` comes
 * back when the first of them is ready (has ended, or needs input), `all` when every one is; either
 * way no later than the timeout, with every run's record as it is then.
 */
import { settled } from './run.js';
import type { RunRecord } from '../record.js';
import type { WaitMode } from '../vocabulary.js';

export interface WaitResult {
  /** The run the answer is about: the first to be ready, else the first named. */
  readonly record: RunRecord;
  /** Every run waited on, in the order named. */
  readonly runs: readonly RunRecord[];
  /** The ids of those that have ended or need input. */
  readonly ready: readonly string[];
  readonly mode: WaitMode;
}

export interface RunWaits {
  status(runId: string): Promise<RunRecord>;
  wait(runId: string, timeoutMs: number, signal: AbortSignal): Promise<RunRecord>;
}

const isReady = (record: RunRecord) => settled(record, -1);

export async function waitForRuns(runIds: readonly string[], mode: WaitMode, timeoutMs: number, signal: AbortSignal | undefined, runs: RunWaits): Promise<WaitResult> {
  // Every id is checked before anything waits: an unknown one is named, not lost in a race.
  let records = await Promise.all(runIds.map((runId) => runs.status(runId)));
  let first = records.find(isReady)?.run_id;
  const due = mode === 'any' ? first === undefined : !records.every(isReady);
  if (due && timeoutMs > 0 && !signal?.aborted) {
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const waits = records.map(async (record) => {
        if (isReady(record)) return record;
        const after = await runs.wait(record.run_id, timeoutMs, stop.signal);
        if (isReady(after)) first ??= after.run_id;
        if (mode === 'any' && isReady(after)) stop.abort();
        return after;
      });
      await Promise.all(waits);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    // Read again: a run that was waited on only until another was ready has moved on since.
    records = await Promise.all(runIds.map((runId) => runs.status(runId)));
  }
  const ready = records.filter(isReady).map((record) => record.run_id);
  const record = records.find((candidate) => candidate.run_id === first) ?? records.find(isReady) ?? records[0]!;
  return { record, runs: records, ready, mode };
}
