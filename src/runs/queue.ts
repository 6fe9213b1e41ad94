/**
 * The runs of this process that wait for a slot, oldest first, and the pump that starts them as far
 * as the slots shared by every fracta on this FRACTA_HOME allow. A run cancelled while queued (here,
 * or by a marker another process left) ends from the queue; it never starts.
 */
import { asFractaError } from '../errors.js';
import type { Run } from './run.js';
import { SlotPool, type SlotRequest } from './slots.js';
import type { QueueEnd } from './terminal.js';
import type { RunStore } from './store.js';

/** How often queued runs look for a slot that another fracta process freed. */
const QUEUE_POLL_MS = 200;

export interface QueueHooks {
  /** The run got its slots: make its workspace and start its process. */
  launch(run: Run): Promise<void>;
  /** The run ends without starting. */
  endQueued(run: Run, reason: QueueEnd): Promise<unknown>;
}

export class RunQueue {
  private readonly waiting: Run[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly slots: SlotPool;

  constructor(
    private readonly store: RunStore,
    private readonly hooks: QueueHooks,
  ) {
    this.slots = new SlotPool(store.slotsDir, (runId) => store.pidOf(runId));
  }

  /** Queues a run and starts what can start; settles once those launches have their process (or failed). */
  async add(run: Run): Promise<void> {
    this.waiting.push(run);
    await Promise.all(this.pump());
  }

  /** Takes a run out of the queue; whether it was there. */
  remove(run: Run): boolean {
    const at = this.waiting.indexOf(run);
    if (at < 0) return false;
    this.waiting.splice(at, 1);
    this.schedule();
    return true;
  }

  /** Empties the queue (fracta is stopping); returns what waited. */
  drain(): Run[] {
    const runs = this.waiting.splice(0);
    this.schedule();
    return runs;
  }

  /** The run's process is gone: its slots go to the next runs. */
  release(run: Run): void {
    this.slots.release(slotRequest(run));
    void this.pump();
  }

  /**
   * Starts queued runs, oldest first, as far as slots allow; a run cancelled while queued ends here.
   * Runs on every local release, and on a timer while anything waits (slots freed by other processes).
   */
  private pump(sweepCancels = false): Array<Promise<unknown>> {
    const launches: Array<Promise<unknown>> = [];
    // Once a runtime's oldest waiting run finds no slot, its younger ones (that cannot borrow a
    // parent's) would not either: each try is disk work under a lock, so do not repeat it.
    const full = new Set<string>();
    for (const run of [...this.waiting]) {
      const request = slotRequest(run);
      // A cancel from another process is a marker file: looked for on the timer's sweep, or when
      // the run is about to start, not for every queued run on every release.
      const mayStart = !full.has(request.runtime) || Boolean(request.parentRun);
      const cancelled = (sweepCancels || mayStart) && this.store.cancelRequested(run.runId);
      if (!cancelled && !mayStart) continue;
      let acquired = false;
      try {
        acquired = !cancelled && this.slots.tryAcquire(request);
      } catch (error) {
        // The slots folder is not usable (state_corrupt): the run ends now, it never waits for ever.
        this.waiting.splice(this.waiting.indexOf(run), 1);
        launches.push(this.hooks.endQueued(run, asFractaError(error, 'state_corrupt')));
        continue;
      }
      if (!cancelled && !acquired) {
        if (!request.parentRun) full.add(request.runtime);
        continue;
      }
      this.waiting.splice(this.waiting.indexOf(run), 1);
      if (cancelled) {
        launches.push(this.hooks.endQueued(run, 'cancel'));
        continue;
      }
      run.enter('starting');
      launches.push(this.hooks.launch(run).catch(() => undefined));
    }
    this.schedule();
    return launches;
  }

  /** The timer runs while anything waits, and only then. */
  private schedule(): void {
    if (this.waiting.length > 0 && !this.timer) {
      // Not unref'd: a process with queued runs (a CLI waiting for one) must live to start them.
      this.timer = setInterval(() => void this.pump(true), QUEUE_POLL_MS);
    } else if (this.waiting.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

function slotRequest(run: Run): SlotRequest {
  const { plan } = run;
  return {
    runId: plan.runId,
    runtime: plan.resolved.runtime.name,
    maxGlobal: plan.maxConcurrent,
    maxRuntime: plan.maxRuntimeConcurrent,
    parentRun: plan.lineage.parentRun,
  };
}
