/**
 * Control of runs across fracta processes that share FRACTA_HOME. A run is owned by the process that
 * started it; another process acts on it through files in its run folder (an inbox of messages, a
 * cancel marker, a close marker) and follows it through its record on disk. This module is both
 * sides: what a process does to a run it does not own, and the owner's poll of its sessions' inboxes.
 */
import { FractaError } from '../errors.js';
import { killGroup } from '../executor/process-group.js';
import { isTerminal, type RunRecord } from '../record.js';
import type { Run } from './run.js';
import { settled } from './run.js';
import { pollUntil } from './poll.js';
import { processAlive } from '../processes.js';
import { isRunProcess } from './run-process.js';
import type { RunStore } from './store.js';
import { cancelledElsewhere } from './terminal.js';

/** How often the owner of a live session looks for messages and close requests from other processes. */
const INBOX_POLL_MS = 150;
/** How often a run of another process is read again while waited for. */
const DISK_POLL_MS = 200;
/** How long a cancel or close waits for the owning process to write the run's end itself. */
const OWNER_ANSWER_MS = 10_000;
const CLOSE_ANSWER_MS = 30_000;

/** Runs that are not local processes (Jobs on a cluster): how to stop one this process does not own. */
export interface RemoteStop {
  stop(record: RunRecord): Promise<void>;
}

/** Follows a run of another process through its record until it settles, `timeoutMs` passes or `signal` aborts. */
export function waitOnDisk(read: () => Promise<RunRecord>, timeoutMs: number, signal: AbortSignal | undefined, afterTurn: number): Promise<RunRecord> {
  return pollUntil(read, (record) => settled(record, afterTurn), { timeoutMs, intervalMs: DISK_POLL_MS, signal });
}

export function sessionBusy(): FractaError {
  return new FractaError('session_busy', 'the agent is still working on the previous message: call wait until awaiting_input is true, then send');
}

/** Leaves a message in the inbox of a live session another process owns. */
export async function sendElsewhere(store: RunStore, runId: string, message: string): Promise<RunRecord> {
  const record = await store.read(runId);
  if (!record.stream) throw new FractaError('session_closed', `run ${runId} is not a live session: spawn with stream: true to send it messages, or resume its session with resume_run`, 'run_id');
  if (isTerminal(record.status)) throw new FractaError('session_closed', `run ${runId} has ended (${record.status}); continue its session with spawn and resume_run: "${runId}"`, 'run_id');
  if (!record.awaiting_input) throw sessionBusy();
  await store.postMessage(runId, message);
  return { ...record, awaiting_input: false };
}

/** Asks the process that owns a live session to close it, and waits (bounded) for its end. */
export async function closeElsewhere(store: RunStore, runId: string, read: () => Promise<RunRecord>): Promise<RunRecord> {
  const record = await store.read(runId);
  if (isTerminal(record.status)) return record;
  if (!record.stream) throw new FractaError('session_closed', `run ${runId} is not a live session; cancel stops it`, 'run_id');
  store.requestClose(runId);
  // Only the end counts here, not the turn the session is waiting after.
  return waitOnDisk(read, CLOSE_ANSWER_MS, undefined, Number.POSITIVE_INFINITY);
}

/**
 * Cancels a run this process does not own: leaves the marker, kills its process tree (or has its Job
 * deleted), then lets its owner write the end; an owner that is gone or does not answer leaves that to us.
 */
export async function cancelElsewhere(store: RunStore, runId: string, killGraceMs: number, remote: RemoteStop | undefined, read: () => Promise<RunRecord>): Promise<RunRecord> {
  const record = await store.read(runId);
  if (isTerminal(record.status)) return record;
  store.requestCancel(runId);
  if (record.pid !== null && isRunProcess(record.pid, runId)) {
    await killGroup(record.pid, killGraceMs);
  } else if (record.backend !== 'local' && remote) {
    await remote.stop(record);
  }
  if (processAlive(record.owner_pid) && record.owner_pid !== process.pid) {
    const after = await waitOnDisk(read, OWNER_ANSWER_MS, undefined, Number.POSITIVE_INFINITY);
    if (isTerminal(after.status)) return after;
  }
  const cancelled = cancelledElsewhere(record);
  await store.write(cancelled);
  return cancelled;
}

/** The owner's side: hands messages and close requests other processes left to this process's sessions. */
export class Inboxes {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RunStore,
    /** This process's sessions that have a process and are not stopping. */
    private readonly sessions: () => Run[],
    private readonly close: (run: Run) => void,
    private readonly send: (run: Run, message: string) => Promise<unknown>,
  ) {}

  /** Polls while this process has a session; stops by itself when it has none. */
  watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const sessions = this.sessions();
      if (sessions.length === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      for (const run of sessions) {
        if (this.store.closeRequested(run.runId)) {
          this.close(run);
          continue;
        }
        void this.store.takeMessages(run.runId).then(async (messages) => {
          for (const message of messages) await this.send(run, message).catch(() => undefined);
        });
      }
    }, INBOX_POLL_MS);
    this.timer.unref();
  }
}
