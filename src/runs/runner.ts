/**
 * Step 5 of the pipeline and a run's life after it: make the workspace, start the process, enforce
 * the timeout, stop it on cancel or shutdown, record the outcome, clean up. A run is never tied to
 * the request that started it: waiting is separate from running.
 */
import { maskSecrets } from '../secrets.js';
import { asFractaError, FractaError, isFractaError } from '../errors.js';
import type { ExecutionBackend, RunningJob } from '../executor/backend.js';
import { collectWorkspaceFiles } from '../executor/kubernetes/files.js';
import { groupAlive, killGroup } from '../executor/process-group.js';
import { prepareWorkspace } from './workspace.js';
import type { SpawnPlan } from '../spawn/plan.js';
import type { LoggedEvent } from '../events.js';
import { isStreamSpec, type StreamSpec } from '../host/host.js';
import { applyResult, conclude, type StopReason } from './conclude.js';
import { EventLog } from './event-log.js';
import { LiveSession } from './session.js';
import { SlotPool } from './slots.js';
import { isRunProcess, processAlive } from './run-process.js';
import { checkRunId } from '../run-id.js';
import { isTerminal, type RunRecord } from '../record.js';
import { initialRecord } from './initial-record.js';
import { settleWorkspace } from './settle-workspace.js';
import { writeFailure, type RunStore } from './store.js';

interface ActiveRun {
  record: RunRecord;
  readonly plan: SpawnPlan;
  job?: RunningJob;
  session?: LiveSession;
  stopReason?: StopReason;
  stopping?: Promise<void>;
  /** Settles with the terminal record, whether the run ran or ended while queued. */
  readonly ended: Promise<RunRecord>;
  readonly resolveEnded: (record: RunRecord) => void;
  /** Holds a global and a runtime slot (released when it ends). */
  holdsSlot?: boolean;
  /** Its workspace was prepared (so cleanup applies). */
  prepared?: boolean;
  /** Timer for idle_timeout_s: no output for that long ends the run. */
  silence?: NodeJS.Timeout;
  /** Record writes, one after another, so an older state never lands after a newer one. */
  writing: Promise<void>;
  /** Why the last record write failed (a full disk), until one succeeds. */
  writeError?: FractaError;
  /** Callbacks for events (progress) and for the end of a turn (waiters). */
  readonly listeners: Set<(event: LoggedEvent) => void>;
  readonly turnWaiters: Set<() => void>;
  /** Set while a session that resumes per turn waits between turns: hands over the next turn's process, or none to end. */
  gate?: (next: RunningJob | undefined) => void;
}

/** setTimeout's ceiling (about 24.8 days); a longer timeout is as good as none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How often the owner of a live session looks for messages and close requests from other processes. */
const INBOX_POLL_MS = 150;

/** How often, and how many times, a terminal record that could not be written is tried again. */
const UNWRITTEN_RETRY_MS = 5_000;
const UNWRITTEN_TRIES = 120;

/** How often queued runs look for a slot that another fracta process freed. */
const QUEUE_POLL_MS = 200;


/** Runs that are not local processes (Jobs on a cluster): their backend, loaded when first needed, and how to stop one this process does not own. */
export interface RemoteRuns {
  backend(): Promise<ExecutionBackend>;
  stop(record: RunRecord): Promise<void>;
  /** The HOME_LABEL value of this fracta install. */
  readonly home: string;
}

export class Runner {
  private readonly active = new Map<string, ActiveRun>();
  /** Runs that ended here whose terminal record is not on disk yet (a full disk): what status answers meanwhile. */
  private readonly unwrittenRecords = new Map<string, RunRecord>();
  private readonly starting = new Set<Promise<unknown>>();
  private closing = false;
  private inboxTimer: NodeJS.Timeout | undefined;
  /** Runs of this process waiting for a slot, oldest first. */
  private readonly queue: ActiveRun[] = [];
  private queueTimer: NodeJS.Timeout | undefined;
  private readonly slots: SlotPool;

  constructor(
    readonly store: RunStore,
    private readonly backend: ExecutionBackend,
    /** Grace for runs of other processes, which this one has no plan for. */
    private readonly killGraceMs = 5_000,
    private readonly remote?: RemoteRuns,
  ) {
    this.slots = new SlotPool(store.slotsDir, (runId) => store.pidOf(runId));
  }

  activeCount(): number {
    return this.active.size;
  }

  /**
   * Makes the run's folder and record, then starts it at once if a slot is free (across every fracta
   * sharing FRACTA_HOME), else leaves it queued; returns the record as it is then.
   */
  async start(plan: SpawnPlan): Promise<RunRecord> {
    if (this.closing) throw new FractaError('server_stopped', 'fracta is shutting down and starts no new runs');
    const starting = this.startRun(plan);
    this.starting.add(starting);
    try {
      return await starting;
    } finally {
      this.starting.delete(starting);
    }
  }

  private async startRun(plan: SpawnPlan): Promise<RunRecord> {
    const { runId, request } = plan;
    if (plan.lineage.parentRun) this.store.claimChild(plan.lineage.parentRun, runId, plan.maxChildren);
    const task = maskSecrets(request.task, plan.childEnv.secrets);
    const record = initialRecord(plan, this.store, task);
    try {
      this.store.create(runId);
      // Marked active first: a crash right after the record is written still leaves it to recovery.
      this.store.markActive(runId);
      await Promise.all([this.store.writeTask(runId, task), this.store.write(record)]);
    } catch (error) {
      // A run that could not be recorded (a full disk) leaves nothing that looks like one.
      this.store.discard(runId);
      throw isFractaError(error) ? error : writeFailure(error as NodeJS.ErrnoException, this.store.runDir(runId));
    }

    let resolveEnded!: (record: RunRecord) => void;
    const ended = new Promise<RunRecord>((resolve) => {
      resolveEnded = resolve;
    });
    const active: ActiveRun = { record, plan, writing: Promise.resolve(), listeners: new Set(), turnWaiters: new Set(), ended, resolveEnded };
    this.active.set(runId, active);
    this.queue.push(active);
    await Promise.all(this.pump());
    return active.record;
  }

  private slotRequest(active: ActiveRun) {
    const { plan } = active;
    return {
      runId: plan.runId,
      runtime: plan.resolved.runtime.name,
      maxGlobal: plan.maxConcurrent,
      maxRuntime: plan.maxRuntimeConcurrent,
      parentRun: plan.lineage.parentRun,
    };
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
    for (const active of [...this.queue]) {
      const request = this.slotRequest(active);
      // A cancel from another process is a marker file: looked for on the timer's sweep, or when
      // the run is about to start, not for every queued run on every release.
      const mayStart = !full.has(request.runtime) || Boolean(request.parentRun);
      const cancelled = (sweepCancels || mayStart) && this.store.cancelRequested(active.plan.runId);
      if (!cancelled && !mayStart) continue;
      let acquired = false;
      try {
        acquired = !cancelled && this.slots.tryAcquire(request);
      } catch (error) {
        // The slots folder is not usable (state_corrupt): the run ends now, it never waits for ever.
        this.queue.splice(this.queue.indexOf(active), 1);
        launches.push(this.endQueued(active, asFractaError(error, 'state_corrupt')));
        continue;
      }
      if (!cancelled && !acquired) {
        if (!request.parentRun) full.add(request.runtime);
        continue;
      }
      this.queue.splice(this.queue.indexOf(active), 1);
      if (cancelled) {
        launches.push(this.endQueued(active, 'cancel'));
        continue;
      }
      active.holdsSlot = true;
      launches.push(this.launch(active).catch(() => undefined));
    }
    if (this.queue.length > 0 && !this.queueTimer) {
      // Not unref'd: a process with queued runs (a CLI waiting for one) must live to start them.
      this.queueTimer = setInterval(() => void this.pump(true), QUEUE_POLL_MS);
    } else if (this.queue.length === 0 && this.queueTimer) {
      clearInterval(this.queueTimer);
      this.queueTimer = undefined;
    }
    return launches;
  }

  /** A run that ends before it ever started: cancelled in the queue, fracta stopping, or no usable slot. */
  private endQueued(active: ActiveRun, reason: 'cancel' | 'shutdown' | FractaError): Promise<RunRecord> {
    const error =
      reason === 'cancel'
        ? { code: 'cancelled', message: 'cancelled while queued; it never started' }
        : reason === 'shutdown'
          ? { code: 'server_stopped', message: 'fracta stopped before this queued run started; nothing ran: spawn it again' }
          : { code: reason.code, message: `${reason.message}; nothing ran` };
    return this.finish(active, {
      ...active.record,
      status: reason === 'cancel' ? 'cancelled' : reason === 'shutdown' ? 'interrupted' : 'failed',
      error,
      ended_at: new Date().toISOString(),
    });
  }

  /** Step 5 for a run that has its slots: workspace, process, watching. */
  private async launch(active: ActiveRun): Promise<void> {
    const { plan } = active;
    const runId = plan.runId;
    let record: RunRecord = { ...active.record, status: 'running' };
    active.record = record;
    const command = plan.command;
    if (isStreamSpec(command)) active.session = this.openSession(active, command);
    try {
      active.prepared = true;
      await prepareWorkspace(plan);
      active.job = await this.startJob(active, plan.command);
    } catch (error) {
      const failure = asFractaError(error, 'spawn_failed');
      await this.finish(active, {
        ...record,
        status: 'failed',
        error: { code: failure.code, message: maskSecrets(failure.message, plan.childEnv.secrets) },
        ended_at: new Date().toISOString(),
      });
      return;
    }
    this.heardFrom(active);
    const location = active.job.location;
    record = {
      ...record,
      pid: active.job.pid,
      started_at: new Date().toISOString(),
      backend: location ? 'kubernetes' : 'local',
      kubernetes: location ? { namespace: location.namespace, job: location.job, context: location.context } : null,
    };
    active.record = record;
    await this.persist(active);
    active.session?.attach(active.job);
    void this.watch(active, active.job);
    if (active.session) this.pollInboxes();
    // A cancel or a shutdown that came while the process was starting takes effect now.
    if (this.closing) void this.stop(active, 'shutdown');
    else if (this.store.cancelRequested(runId)) void this.stop(active, 'cancel');
  }

  /** Starts one process of the run (a session that resumes per turn starts one a turn), logs appended. */
  private async startJob(active: ActiveRun, command: SpawnPlan['command']): Promise<RunningJob> {
    const { plan, record, session } = active;
    const cluster = plan.kubernetes;
    if (cluster && !this.remote) throw new FractaError('internal_error', 'this fracta has no kubernetes backend');
    const backend = cluster ? await this.remote!.backend() : this.backend;
    return backend.start({
      runId: plan.runId,
      command: plan.command.command,
      args: command.args,
      cwd: plan.workdir,
      env: { ...plan.childEnv.env, ...command.env, FRACTA_RUN_ID: plan.runId },
      stdin: command.stdin,
      keepStdinOpen: session?.live === true,
      ...(session ? { onStdoutLine: (line: string) => session.line(line) } : {}),
      ...(plan.idleTimeoutMs ? { onOutput: () => this.heardFrom(active) } : {}),
      stdoutPath: record.stdout_path,
      stderrPath: record.stderr_path,
      killGraceMs: plan.killGraceMs,
      secrets: plan.childEnv.secrets,
      ...(cluster
        ? {
            kubernetes: {
              config: cluster.config,
              runtime: plan.resolved.runtime.name,
              timeoutS: plan.timeoutS,
              fractaEnv: cluster.fractaEnv,
              // The host's files were staged in the local workspace; the pod gets them through its Secret.
              files: await collectWorkspaceFiles(plan.workdir),
              home: this.remote!.home,
              ...(cluster.git ? { git: cluster.git } : {}),
            },
          }
        : {}),
    });
  }

  /** idle_timeout_s: the run is ended when its child writes nothing for that long (not while a session waits for a message). */
  private heardFrom(active: ActiveRun): void {
    const ms = active.plan.idleTimeoutMs;
    if (!ms) return;
    clearTimeout(active.silence);
    active.silence = setTimeout(() => {
      if (active.session?.awaitingInput) this.heardFrom(active);
      else void this.stop(active, 'silent');
    }, Math.min(ms, MAX_TIMER_MS));
    active.silence.unref();
  }

  private openSession(active: ActiveRun, spec: StreamSpec): LiveSession {
    const { plan } = active;
    const log = new EventLog(this.store.eventsPath(plan.runId), plan.childEnv.secrets);
    return new LiveSession(spec, log, { turnTimeoutMs: plan.timeoutS * 1000, idleMs: plan.sessionIdleMs }, {
      onEvent: (event) => {
        if (event.type === 'init' && event.session_id && active.record.resume_token === null) {
          this.update(active, { resume_token: event.session_id });
        }
        for (const listener of active.listeners) listener(event);
      },
      onTurnDone: (result) => {
        const session = active.session!;
        // A turn ends on its result: a process that lingers after it is not waited for.
        if (!session.live && active.job) {
          const job = active.job;
          const linger = setTimeout(() => void job.terminate(), plan.killGraceMs);
          void job.exited.then(() => clearTimeout(linger));
        }
        this.update(active, {
          ...applyResult(active.record, result, plan.childEnv.secrets),
          // A session on a cluster ends with its one turn: nothing to send, the run is about to end.
          awaiting_input: plan.kubernetes === undefined,
          turns_done: session.turnsDone,
        });
        if (!plan.kubernetes) for (const resolve of active.turnWaiters) resolve();
      },
      onExpired: (reason) => void this.stop(active, reason),
    });
  }

  /** Changes the record in memory and writes it, after any write still under way. */
  private update(active: ActiveRun, change: Partial<RunRecord>): void {
    active.record = { ...active.record, ...change };
    void this.persist(active);
  }

  private persist(active: ActiveRun): Promise<void> {
    const record = active.record;
    active.writing = active.writing
      .then(() => this.store.write(record))
      .then(
        () => void (active.writeError = undefined),
        (error) => void (active.writeError = asFractaError(error, 'internal_error')),
      );
    return active.writing;
  }

  /**
   * The terminal record could not be written (a full disk): the run is answered as failed with that
   * error, its active marker stays (a later fracta's recovery finishes it if this one cannot), and
   * the write is tried again now and then while this process lives.
   */
  private unwritten(final: RunRecord, error: FractaError): RunRecord {
    const answered: RunRecord = {
      ...final,
      status: 'failed',
      error: {
        code: error.code,
        message: `the run ended (${final.status}${final.error ? `: ${final.error.message}` : ''}) but its record could not be written: ${error.message}; fracta tries again, and a fracta started later recovers it`,
      },
    };
    this.unwrittenRecords.set(final.run_id, answered);
    let tries = 0;
    const retry = () => {
      try {
        this.store.write(answered);
        this.store.markEnded(final.run_id);
        this.unwrittenRecords.delete(final.run_id);
      } catch {
        if (++tries < UNWRITTEN_TRIES) setTimeout(retry, UNWRITTEN_RETRY_MS).unref();
      }
    };
    setTimeout(retry, UNWRITTEN_RETRY_MS).unref();
    return answered;
  }

  private async watch(active: ActiveRun, job: RunningJob): Promise<RunRecord> {
    const { plan, session } = active;
    // A live session times each turn instead (LiveSession).
    const timer = session ? undefined : setTimeout(() => void this.stop(active, 'timeout'), Math.min(plan.timeoutS * 1000, MAX_TIMER_MS));
    let exit = await job.exited;
    // A session without live input ends its process with each turn and waits for the next message.
    // On a cluster the session ends with its pod: one turn.
    while (session && !session.live && !plan.kubernetes && session.awaitingInput && !active.stopReason && !this.closing && !this.store.cancelRequested(plan.runId)) {
      this.update(active, { pid: null });
      const next = await new Promise<RunningJob | undefined>((resolve) => {
        active.gate = resolve;
      });
      active.gate = undefined;
      if (!next) break;
      exit = await next.exited;
    }
    clearTimeout(timer);
    session?.dispose();
    await session?.log.close();
    const reason = active.stopReason ?? (this.store.cancelRequested(plan.runId) ? 'cancel' : exit.deadlineExceeded ? 'timeout' : undefined);
    const record = conclude(
      active.record,
      plan.resolved.host,
      { exit, reason, idleTimeoutS: plan.idleTimeoutMs === undefined ? undefined : plan.idleTimeoutMs / 1000, ...(session ? { stream: { lastResult: session.lastResult } } : {}) },
      plan.childEnv.secrets,
    );
    return this.finish(active, record);
  }

  /** The next turn of a session without live input: a new process resuming the session. */
  private async nextTurn(active: ActiveRun, session: LiveSession, message: string): Promise<void> {
    const { plan } = active;
    // The turn's result may come a moment before its process is gone.
    if (!active.gate && session.awaitingInput && active.job) {
      await active.job.exited;
      for (let tries = 0; !active.gate && tries < 100; tries++) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (!active.gate) throw new FractaError('session_busy', 'the agent is still working on the previous message: call wait until awaiting_input is true, then send');
    const spec = plan.resolved.host.buildStreamCommand({
      ...plan.commandInput,
      prompt: message,
      resumeToken: session.sessionId ?? active.record.resume_token ?? plan.commandInput.resumeToken,
    });
    session.beginTurn(message);
    let job: RunningJob;
    try {
      job = await this.startJob(active, spec);
    } catch (error) {
      session.abandonTurn();
      throw error;
    }
    active.job = job;
    session.attach(job, spec);
    this.update(active, { pid: job.pid, awaiting_input: false });
    active.gate(job);
  }

  /** Reads back what the agent changed in a repository workspace, then cleans up per policy, then writes the terminal record. */
  private async finish(active: ActiveRun, record: RunRecord): Promise<RunRecord> {
    const { plan } = active;
    clearTimeout(active.silence);
    // The slot is for the agent's process, which is gone: the next run starts while this one's
    // changes are read, its workspace removed and its record written.
    if (active.holdsSlot) {
      active.holdsSlot = false;
      this.slots.release(this.slotRequest(active));
      void this.pump();
    }
    let final = await settleWorkspace(plan, record, active.prepared === true);
    active.record = final;
    await this.persist(active);
    // No terminal state is claimed that is not on disk.
    if (active.writeError) active.record = final = this.unwritten(final, active.writeError);
    else this.store.markEnded(final.run_id);
    this.active.delete(final.run_id);
    for (const resolve of active.turnWaiters) resolve();
    active.resolveEnded(final);
    return final;
  }

  private stop(active: ActiveRun, reason: StopReason): Promise<void> {
    if (!active.stopping && active.job) {
      const job = active.job;
      active.stopReason = reason;
      // Between turns there is no process: the waiting watch ends the run.
      active.gate?.(undefined);
      if ((reason === 'close' || reason === 'idle') && active.session) {
        // A closed session finishes by itself; one that lingers past the grace is killed.
        active.session.close();
        active.stopping = Promise.race([
          job.exited.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), active.plan.killGraceMs).unref()),
        ]).then((exited) => (exited ? undefined : job.terminate()));
      } else {
        active.stopping = job.terminate();
      }
    }
    return active.stopping ?? Promise.resolve();
  }

  /** Follows a run's events as they happen (runs of this process only); returns the unsubscribe. */
  subscribe(runId: string, listener: (event: LoggedEvent) => void): () => void {
    const active = this.active.get(runId);
    if (!active) return () => undefined;
    active.listeners.add(listener);
    return () => active.listeners.delete(listener);
  }

  /** Sends the next message of a live session, here or (through its inbox) in the process that owns it. */
  async send(runId: string, message: string): Promise<RunRecord> {
    const active = this.active.get(checkRunId(runId));
    if (active?.session) {
      if (active.stopping) throw new FractaError('session_closed', `run ${runId} is closing and takes no more messages`);
      if (active.session.live) {
        await active.session.send(message);
        this.update(active, { awaiting_input: false });
      } else {
        await this.nextTurn(active, active.session, message);
      }
      return active.record;
    }
    const record = await this.store.read(runId);
    if (!record.stream) throw new FractaError('session_closed', `run ${runId} is not a live session: spawn with stream: true to send it messages, or resume its session with resume_run`, 'run_id');
    if (isTerminal(record.status)) throw new FractaError('session_closed', `run ${runId} has ended (${record.status}); continue its session with spawn and resume_run: "${runId}"`, 'run_id');
    if (!record.awaiting_input) throw new FractaError('session_busy', 'the agent is still working on the previous message: call wait until awaiting_input is true, then send');
    await this.store.postMessage(runId, message);
    return { ...record, awaiting_input: false };
  }

  /** Ends a live session normally: its input is closed and its last turn is the result. */
  async close(runId: string): Promise<RunRecord> {
    const active = this.active.get(checkRunId(runId));
    if (active?.job) {
      if (!active.session) throw new FractaError('session_closed', `run ${runId} is not a live session; cancel stops it`, 'run_id');
      await this.stop(active, 'close');
      return active.ended;
    }
    const record = await this.store.read(runId);
    if (isTerminal(record.status)) return record;
    if (!record.stream) throw new FractaError('session_closed', `run ${runId} is not a live session; cancel stops it`, 'run_id');
    this.store.requestClose(runId);
    // Only the end counts here, not the turn the session is waiting after.
    return this.wait(runId, 30_000, undefined, Number.POSITIVE_INFINITY);
  }

  /** Hands messages and close requests that other processes left for this process's sessions. */
  private pollInboxes(): void {
    if (this.inboxTimer) return;
    this.inboxTimer = setInterval(() => {
      const sessions = [...this.active.values()].filter((active) => active.session && active.job && !active.stopping);
      if (sessions.length === 0) {
        clearInterval(this.inboxTimer);
        this.inboxTimer = undefined;
        return;
      }
      for (const active of sessions) {
        const runId = active.plan.runId;
        if (this.store.closeRequested(runId)) {
          void this.stop(active, 'close');
          continue;
        }
        void this.store.takeMessages(runId).then(async (messages) => {
          for (const message of messages) await this.send(runId, message).catch(() => undefined);
        });
      }
    }, INBOX_POLL_MS);
    this.inboxTimer.unref();
  }

  /** The current record (from memory when this process runs it, else from disk), with its children. */
  async status(runId: string): Promise<RunRecord> {
    checkRunId(runId);
    const record = this.active.get(runId)?.record ?? this.unwrittenRecords.get(runId) ?? (await this.store.read(runId));
    return { ...record, children: this.store.children(runId) };
  }

  /**
   * Resolves with the record when the run ends or `timeoutMs` passes (then it is still running), or
   * when `signal` aborts. Runs of other fracta processes are followed through their record on disk.
   */
  async wait(runId: string, timeoutMs: number, signal?: AbortSignal, afterTurn = -1): Promise<RunRecord> {
    const active = this.active.get(checkRunId(runId));
    const deadline = Date.now() + timeoutMs;
    // A live session that waits for a message (after the turn the caller knows of) is done for now.
    const settled = (record: RunRecord) => isTerminal(record.status) || (record.awaiting_input && record.turns_done > afterTurn);
    if (active) {
      if (settled(active.record)) return active.record;
      let timer: NodeJS.Timeout | undefined;
      let turnEnded: (() => void) | undefined;
      const stopWaiting = new Promise<void>((resolve) => {
        // setTimeout cannot take more than 2^31-1 ms; longer means "until it ends".
        if (timeoutMs <= MAX_TIMER_MS) timer = setTimeout(resolve, timeoutMs);
        signal?.addEventListener('abort', () => resolve(), { once: true });
        turnEnded = resolve;
        active.turnWaiters.add(resolve);
      });
      await Promise.race([active.ended, stopWaiting]);
      clearTimeout(timer);
      if (turnEnded) active.turnWaiters.delete(turnEnded);
      return active.record;
    }
    for (;;) {
      const record = await this.status(runId);
      if (settled(record) || Date.now() >= deadline || signal?.aborted) return record;
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Stops a run (this process's, or another fracta process's) and returns its terminal record. */
  async cancel(runId: string): Promise<RunRecord> {
    const active = this.active.get(checkRunId(runId));
    if (active && this.queue.includes(active)) {
      this.queue.splice(this.queue.indexOf(active), 1);
      return this.endQueued(active, 'cancel');
    }
    if (active?.job) {
      await this.stop(active, 'cancel');
      return active.ended;
    }
    const record = await this.store.read(runId);
    if (isTerminal(record.status)) return record;
    this.store.requestCancel(runId);
    if (record.pid !== null && isRunProcess(record.pid, runId)) {
      await killGroup(record.pid, this.killGraceMs);
    } else if (record.kubernetes && this.remote) {
      await this.remote.stop(record);
    }
    // The owner writes the terminal record when it sees the exit; if the owner is gone, we do.
    if (processAlive(record.owner_pid) && record.owner_pid !== process.pid) {
      const after = await this.wait(runId, 10_000);
      if (isTerminal(after.status)) return after;
    }
    const cancelled: RunRecord = {
      ...record,
      status: 'cancelled',
      error: { code: 'cancelled', message: record.kubernetes ? 'cancelled on request; its Job was deleted' : 'cancelled on request; its process group was killed' },
      ended_at: new Date().toISOString(),
    };
    await this.store.write(cancelled);
    return cancelled;
  }

  /** Stops every run this process owns (client gone, or a signal) and records why. */
  async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.starting]);
    const queued = this.queue.splice(0);
    await Promise.all(queued.map((active) => this.endQueued(active, 'shutdown')));
    const runs = [...this.active.values()];
    await Promise.all(runs.map((active) => this.stop(active, 'shutdown')));
    await Promise.all(runs.map((active) => active.ended));
  }

  /** Whether anything of the run's process tree is still alive (for tests and diagnostics). */
  static treeAlive(record: RunRecord): boolean {
    return record.pid !== null && groupAlive(record.pid);
  }
}
