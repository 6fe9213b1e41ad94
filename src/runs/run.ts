/**
 * One run owned by this process, from the queue to its terminal record: its phase, its record (kept
 * in memory and written in order), and who is told when something happens to it. The runner moves it
 * from phase to phase; what each phase allows is written here once.
 */
import { asFractaError, FractaError } from '../errors.js';
import type { LoggedEvent } from '../events.js';
import type { RunningJob } from '../executor/backend.js';
import { isTerminal, type RunRecord } from '../record.js';
import type { SpawnPlan } from '../spawn/plan.js';
import type { LiveSession } from './session.js';
import type { RunStore } from './store.js';
import type { StopReason } from './terminal.js';

/**
 * queued: waits for a slot. starting: holds its slots, its workspace and process are being made.
 * running: its process runs. between_turns: a session that resumes per turn waits for the next
 * message with no process. stopping: fracta stops it (cancel, timeout, close, shutdown). ending: its
 * process is gone and its slots are free; its workspace is settled and its terminal record written.
 * ended: that record is written (or, on a full disk, being retried).
 */
export type Phase = 'queued' | 'starting' | 'running' | 'between_turns' | 'stopping' | 'ending' | 'ended';

const NEXT: Readonly<Record<Phase, readonly Phase[]>> = {
  queued: ['starting', 'ending'],
  starting: ['running', 'ending'],
  running: ['between_turns', 'stopping', 'ending'],
  between_turns: ['running', 'stopping', 'ending'],
  stopping: ['ending'],
  ending: ['ended'],
  ended: [],
};

/** setTimeout's ceiling (about 24.8 days); a longer timeout is as good as none. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export class Run {
  private current: Phase = 'queued';
  /** The process of the run (of its latest turn, for a session that resumes per turn). */
  job: RunningJob | undefined;
  /** Set for a streamed run from its start. */
  session: LiveSession | undefined;
  /** Why fracta stops it, and the stop under way; set on entering `stopping`. */
  private stopping: { readonly reason: StopReason; readonly done: Promise<void> } | undefined;
  /** Between turns: hands the waiting watcher the next turn's process, or none to end the run. */
  private gate: ((next: RunningJob | undefined) => void) | undefined;
  /** Timer for idle_timeout_s: no output for that long ends the run. */
  private silence: NodeJS.Timeout | undefined;
  /** Record writes, one after another, so an older state never lands after a newer one. */
  private writing: Promise<void> = Promise.resolve();
  /** Set when a budget it is under stops it: which, and where to raise it. */
  budgetMessage: string | undefined;
  /** Why the last record write failed (a full disk), until one succeeds. */
  writeError: FractaError | undefined;
  private readonly listeners = new Set<(event: LoggedEvent) => void>();
  /** Changes to the record under way (a turn's spend being charged): a waiter reads the record once they are done. */
  private readonly chores = new Set<Promise<void>>();
  private readonly turnWaiters = new Set<() => void>();
  /** Woken on every move from one phase to the next. */
  private readonly phaseWaiters = new Set<() => void>();
  private resolveEnded!: (record: RunRecord) => void;
  /** Settles with the terminal record, whether the run ran or ended while queued. */
  readonly ended = new Promise<RunRecord>((resolve) => {
    this.resolveEnded = resolve;
  });

  constructor(
    public record: RunRecord,
    readonly plan: SpawnPlan,
    private readonly store: RunStore,
  ) {}

  get runId(): string {
    return this.plan.runId;
  }

  get phase(): Phase {
    return this.current;
  }

  /** Moves to the next phase; a move the table above does not allow is a bug, said as one. */
  enter(phase: Phase): void {
    if (!NEXT[this.current].includes(phase)) throw new FractaError('internal_error', `run ${this.runId} cannot go from ${this.current} to ${phase}`);
    this.current = phase;
    for (const wake of [...this.phaseWaiters]) wake();
  }

  /** From starting until it is ending, the run holds a global and a runtime slot. */
  get holdsSlot(): boolean {
    return this.current === 'starting' || this.current === 'running' || this.current === 'between_turns' || this.current === 'stopping';
  }

  get stopReason(): StopReason | undefined {
    return this.stopping?.reason;
  }

  /** Enters `stopping` with the work that stops it; a second stop joins the first. */
  beginStop(reason: StopReason, stop: (job: RunningJob) => Promise<void>): Promise<void> {
    if (this.stopping || !this.job || (this.current !== 'running' && this.current !== 'between_turns')) return this.stopping?.done ?? Promise.resolve();
    const job = this.job;
    this.enter('stopping');
    this.stopping = { reason, done: stop(job) };
    // Between turns there is no process: the waiting watcher ends the run.
    this.openGate(undefined);
    return this.stopping.done;
  }

  /** Between turns: resolves with the next turn's process, or undefined when the run is to end. */
  nextProcess(): Promise<RunningJob | undefined> {
    this.enter('between_turns');
    return new Promise((resolve) => {
      this.gate = resolve;
    });
  }

  /** Resolves once the run leaves `running` (the watcher waits between turns, or it stops), or after `timeoutMs`. */
  leftRunning(timeoutMs: number): Promise<void> {
    if (this.current !== 'running') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.phaseWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.phaseWaiters.add(done);
    });
  }

  /** Hands the watcher the next turn's process (entering running), or undefined to end the run. */
  openGate(next: RunningJob | undefined): void {
    const gate = this.gate;
    this.gate = undefined;
    if (next) this.enter('running');
    gate?.(next);
  }

  /** idle_timeout_s: a child that writes nothing for that long is stopped (not while a session waits for a message). */
  heardFrom(onSilent: () => void): void {
    const ms = this.plan.idleTimeoutMs;
    if (!ms) return;
    clearTimeout(this.silence);
    this.silence = setTimeout(() => {
      if (this.session?.awaitingInput) this.heardFrom(onSilent);
      else onSilent();
    }, Math.min(ms, MAX_TIMER_MS));
    this.silence.unref();
  }

  /** Changes the record in memory and writes it, after any write still under way. */
  update(change: Partial<RunRecord>): void {
    this.record = { ...this.record, ...change };
    void this.persist();
  }

  persist(): Promise<void> {
    const record = this.record;
    this.writing = this.writing
      .then(() => this.store.write(record))
      .then(
        () => void (this.writeError = undefined),
        (error) => void (this.writeError = asFractaError(error, 'internal_error')),
      );
    return this.writing;
  }

  /** Work that will change the record, which every waiter waits for before it reads the record. */
  chore(work: Promise<void>): void {
    this.chores.add(work);
    void work.finally(() => this.chores.delete(work));
  }

  /** Follows the run's events; returns the unsubscribe. */
  subscribe(listener: (event: LoggedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: LoggedEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Wakes whoever waits for the end of a turn. */
  turnEnded(): void {
    for (const resolve of this.turnWaiters) resolve();
  }

  /** The terminal record is settled (written, or being retried): the run is ended for every waiter. */
  end(final: RunRecord): void {
    this.record = final;
    this.enter('ended');
    this.turnEnded();
    this.resolveEnded(final);
  }

  /** Starts ending: no more silence timer; returns whether it held slots (to be released). */
  beginEnding(): boolean {
    const held = this.holdsSlot;
    clearTimeout(this.silence);
    this.gate = undefined;
    this.enter('ending');
    return held;
  }

  /**
   * Resolves with the record when the run ends, or its turn ends (a session awaiting input after the
   * turn `afterTurn` the caller knows of), or `timeoutMs` passes, or `signal` aborts.
   */
  async settle(timeoutMs: number, signal: AbortSignal | undefined, afterTurn: number): Promise<RunRecord> {
    if (settled(this.record, afterTurn)) return this.record;
    const deadline = Date.now() + Math.min(timeoutMs, MAX_TIMER_MS);
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    const stopWaiting = new Promise<void>((resolve) => {
      // setTimeout cannot take more than 2^31-1 ms; longer means "until it ends".
      if (timeoutMs <= MAX_TIMER_MS) timer = setTimeout(resolve, timeoutMs);
      signal?.addEventListener('abort', () => resolve(), { once: true });
      wake = resolve;
      this.turnWaiters.add(resolve);
    });
    await Promise.race([this.ended, stopWaiting]);
    clearTimeout(timer);
    if (wake) this.turnWaiters.delete(wake);
    await Promise.allSettled([...this.chores]);
    // Being stopped (its turn spent its budget, say): the waiter gets its end, not the moment before.
    const left = deadline - Date.now();
    if ((this.current === 'stopping' || this.current === 'ending') && left > 0 && !signal?.aborted) {
      let late: NodeJS.Timeout | undefined;
      await Promise.race([this.ended, new Promise((resolve) => (late = setTimeout(resolve, left)))]);
      clearTimeout(late);
    }
    return this.record;
  }
}

/**
 * Whether a waiter is done: the run ended, it waits for a decision (needs_input), or a live session
 * waits for a message after the turn `afterTurn` the caller knows of. An `afterTurn` of Infinity
 * waits for the end only.
 */
export function settled(record: RunRecord, afterTurn: number): boolean {
  if (isTerminal(record.status)) return true;
  if (afterTurn === Number.POSITIVE_INFINITY) return false;
  return record.needs_input || (record.awaiting_input && record.turns_done > afterTurn);
}
