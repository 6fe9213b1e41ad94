/**
 * Terminal records the disk would not take (a full disk). The run is answered as failed with that
 * error; its active marker stays, so a later fracta's recovery finishes it if this one cannot; and
 * the write is tried again now and then while this process lives. Until it lands, status reads the
 * answer from here.
 */
import type { FractaError } from '../errors.js';
import type { RunRecord } from '../record.js';
import type { RunStore } from './store.js';
import { unwrittenRecord } from './terminal.js';

/** How often, and how many times, a terminal record that could not be written is tried again. */
const RETRY_MS = 5_000;
const TRIES = 120;

export class UnwrittenRecords {
  private readonly records = new Map<string, RunRecord>();

  constructor(private readonly store: RunStore) {}

  get(runId: string): RunRecord | undefined {
    return this.records.get(runId);
  }

  /** The answer for a run whose terminal record could not be written; its write is retried in the background. */
  keep(final: RunRecord, error: FractaError): RunRecord {
    const answered = unwrittenRecord(final, error);
    this.records.set(final.run_id, answered);
    let tries = 0;
    // Awaited: write() is async, and a rejection left unawaited would end the whole process.
    const retry = async () => {
      try {
        await this.store.write(answered);
        this.store.markEnded(final.run_id);
        this.records.delete(final.run_id);
      } catch {
        if (++tries < TRIES) setTimeout(() => void retry(), RETRY_MS).unref();
      }
    };
    setTimeout(() => void retry(), RETRY_MS).unref();
    return answered;
  }
}
