/**
 * The runs of this process, from the queue to their terminal records: a run's workspace, its
 * process, its timeout and its stop on cancel or shutdown, and the answers about it (status, wait,
 * send, close, cancel) for it and for runs other fracta processes own. A run is never tied to the
 * request that started it: waiting is separate from running.
 */
import { traceRun } from '../trace.js';
import { maskSecrets } from '../secrets.js';
import { asFractaError, FractaError, isFractaError } from '../errors.js';
import type { RunningJob } from '../executor/backend.js';
import type { WorkspaceFile } from '../workspace/files.js';
import { prepareWorkspace } from './workspace.js';
import type { SpawnPlan } from '../spawn/plan.js';
import type { LoggedEvent } from '../events.js';
import { isStreamSpec, type CommandSpec, type StreamSpec } from '../host/host.js';
import { concluded, endedInQueue, refusedAtStart, type QueueEnd, type StopReason } from './terminal.js';
import { cancelElsewhere, closeElsewhere, Inboxes, sendElsewhere, waitOnDisk, type RemoteStop } from './cross-process.js';
import { MAX_TIMER_MS, Run } from './run.js';
import { RunQueue } from './queue.js';
import { nextTurn, openSession } from './turns.js';
import { UnwrittenRecords } from './unwritten.js';
import { endOfRequests, PendingWatch, untilDecided } from './pending.js';
import { FRACTA_ENV } from '../names.js';
import { checkRunId } from '../run-id.js';
import type { PendingRequest, RunRecord } from '../record.js';
import { initialRecord } from './initial-record.js';
import { settleWorkspace } from './settle-workspace.js';
import { writeFailure, type RunStore } from './store.js';
import { TreeBudgets } from './budgets.js';

/** How long an agent spoken to over a protocol has to stop its turn when asked (session/cancel), before its process tree is stopped. */
const PROTOCOL_CANCEL_MS = 1_000;

/** Whether a run's permission requests are raised on its record: its agent has fracta over MCP, or speaks a protocol that asks fracta. */
function asksAbove(plan: SpawnPlan): boolean {
  return plan.request.agent_mcp === true || (isStreamSpec(plan.command) && plan.command.protocol !== undefined);
}

export interface RunnerOptions {
  /** Grace for runs of other processes, which this one has no plan for. */
  readonly killGraceMs?: number;
  /** How to stop a run of another process that is not a local process (a Job on a cluster). */
  readonly remote?: RemoteStop;
}

export class Runner {
  private readonly active = new Map<string, Run>();
  private readonly unwritten: UnwrittenRecords;
  private readonly starting = new Set<Promise<unknown>>();
  private closing = false;
  private readonly queue: RunQueue;
  private readonly inboxes: Inboxes;
  private readonly pending: PendingWatch;
  private readonly budgets: TreeBudgets;
  private readonly killGraceMs: number;

  constructor(
    readonly store: RunStore,
    private readonly options: RunnerOptions,
  ) {
    this.killGraceMs = options.killGraceMs ?? 5_000;
    this.unwritten = new UnwrittenRecords(store);
    this.queue = new RunQueue(store, { launch: (run) => this.launch(run), endQueued: (run, reason) => this.endQueued(run, reason) });
    this.inboxes = new Inboxes(
      store,
      () => [...this.active.values()].filter((run) => run.session && (run.phase === 'running' || run.phase === 'between_turns')),
      (run) => void this.stop(run, 'close'),
      (run, message) => this.send(run.runId, message),
    );
    this.budgets = new TreeBudgets(store.home, { active: () => [...this.active.values()], stop: (run, message) => void this.stopForBudget(run, message) });
    this.pending = new PendingWatch(store, () => [...this.active.values()].filter((run) => asksAbove(run.plan) && run.job !== undefined && run.phase !== 'ending' && run.phase !== 'ended'));
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
    // Its share of the tree's budgets first: a spawn refused for its budget leaves nothing behind.
    const reservation = await this.budgets.reserve(plan);
    const task = maskSecrets(request.task, plan.childEnv.secrets);
    const run = new Run(initialRecord(plan, this.store, task), plan, this.store);
    try {
      if (plan.lineage.parentRun) this.store.claimChild(plan.lineage.parentRun, runId, plan.maxChildren);
      run.record = this.budgets.track(run, reservation);
      this.store.create(runId);
      // Marked active first: a crash right after the record is written still leaves it to recovery.
      this.store.markActive(runId);
      await Promise.all([this.store.writeTask(runId, task), this.store.write(run.record)]);
      traceRun(runId, 'recorded');
    } catch (error) {
      // A run that could not be recorded (a full disk) leaves nothing that looks like one.
      this.store.discard(runId);
      await this.budgets.release(runId, reservation);
      throw isFractaError(error) ? error : writeFailure(error as NodeJS.ErrnoException, this.store.runDir(runId));
    }
    this.active.set(runId, run);
    await this.queue.add(run);
    return run.record;
  }

  private endQueued(run: Run, reason: QueueEnd): Promise<RunRecord> {
    return this.finish(run, endedInQueue(run.record, reason), false);
  }

  /** A run that has its slots: its workspace, its process, and a watch on both. */
  private async launch(run: Run): Promise<void> {
    const { plan } = run;
    traceRun(plan.runId, 'slot');
    run.record = { ...run.record, status: 'running' };
    if (isStreamSpec(plan.command)) run.session = openSession(run, plan.command, this.store, plan.target.multiTurn, (reason) => void this.stop(run, reason));
    let job: RunningJob;
    try {
      const files = await prepareWorkspace(plan);
      traceRun(plan.runId, 'workspace');
      job = await this.startProcess(run, plan.command, files);
      traceRun(plan.runId, 'process');
    } catch (error) {
      await this.finish(run, refusedAtStart(run.record, asFractaError(error, 'spawn_failed'), plan.childEnv.secrets), true);
      return;
    }
    run.job = job;
    run.enter('running');
    run.heardFrom(() => void this.stop(run, 'silent'));
    run.record = { ...run.record, pid: job.pid, started_at: new Date().toISOString(), ...job.place };
    await run.persist();
    traceRun(plan.runId, 'running');
    run.session?.attach(job);
    void this.watch(run, job);
    if (run.session) this.inboxes.watch();
    if (asksAbove(plan)) this.pending.watch();
    // A cancel or a shutdown that came while the process was starting takes effect now.
    if (this.closing) void this.stop(run, 'shutdown');
    else if (this.store.cancelRequested(plan.runId)) void this.stop(run, 'cancel');
  }

  /**
   * Starts one process of the run (a session that resumes per turn starts one a turn), logs appended.
   * The executable is the plan's: it was found on PATH once, and a turn's command names it bare.
   */
  private startProcess(run: Run, command: CommandSpec | StreamSpec, files?: readonly WorkspaceFile[]): Promise<RunningJob> {
    const { plan, record, session } = run;
    const onSilent = () => void this.stop(run, 'silent');
    return plan.target.start({
      runId: plan.runId,
      command: plan.command.command,
      args: command.args,
      cwd: plan.workdir,
      env: { ...plan.childEnv.env, ...command.env, [FRACTA_ENV.RUN_ID]: plan.runId },
      stdin: command.stdin,
      keepStdinOpen: session?.live === true,
      ...(session ? { onStdoutLine: (line: string) => session.line(line) } : {}),
      ...(plan.idleTimeoutMs ? { onOutput: () => run.heardFrom(onSilent) } : {}),
      stdoutPath: record.stdout_path,
      stderrPath: record.stderr_path,
      killGraceMs: plan.killGraceMs,
      secrets: plan.childEnv.secrets,
      ...(files ? { files } : {}),
    });
  }

  /** Whether a session that resumes per turn waits for its next message once a turn's process is gone. */
  private waitsForNextTurn(run: Run): boolean {
    const { session, plan } = run;
    return session !== undefined && !session.live && plan.target.multiTurn && session.awaitingInput && run.phase === 'running' && !this.closing && !this.store.cancelRequested(plan.runId);
  }

  private async watch(run: Run, job: RunningJob): Promise<RunRecord> {
    const { plan, session } = run;
    // A live session times each turn instead (LiveSession).
    const timer = session ? undefined : setTimeout(() => void this.stop(run, 'timeout'), Math.min(plan.timeoutS * 1000, MAX_TIMER_MS));
    let exit = await job.exited;
    traceRun(plan.runId, 'exited');
    while (this.waitsForNextTurn(run)) {
      run.update({ pid: null });
      const next = await run.nextProcess();
      if (!next) break;
      exit = await next.exited;
    }
    clearTimeout(timer);
    session?.gone();
    await session?.log.close();
    const reason = run.stopReason ?? (this.store.cancelRequested(plan.runId) ? 'cancel' : exit.deadlineExceeded ? 'timeout' : undefined);
    const idleTimeoutS = plan.idleTimeoutMs === undefined ? undefined : plan.idleTimeoutMs / 1000;
    const ending = { exit, reason, idleTimeoutS, budgetMessage: run.budgetMessage, ...(session ? { stream: { lastResult: session.lastResult } } : {}) };
    const final = concluded(run.record, plan.resolved.host, ending, plan.childEnv.secrets);
    return this.finish(run, final, true);
  }

  /** Frees the slots, reads back what the agent changed, cleans up per policy, then writes the terminal record. */
  private async finish(run: Run, record: RunRecord, prepared: boolean): Promise<RunRecord> {
    // The slot is for the agent's process, which is gone: the next run starts while this one's
    // changes are read, its workspace removed and its record written.
    if (run.beginEnding()) this.queue.release(run);
    // The last decisions may have landed since the owner last looked (the agent acts on its answer at once).
    const asked = asksAbove(run.plan) ? await endOfRequests(this.store, run.runId) : { requests: record.requests };
    // An ended run asks nothing: what its agent asked and nobody decided goes with it.
    let final = await settleWorkspace(run.plan, { ...record, ...asked, needs_input: false, pending_requests: [] }, prepared);
    // What it spent, settled once; a budget that spends stops the runs under it.
    final = await this.budgets.settle(run, final);
    traceRun(run.runId, 'settled');
    run.record = final;
    await run.persist();
    traceRun(run.runId, 'final');
    // No terminal state is claimed that is not on disk.
    if (run.writeError) final = this.unwritten.keep(final, run.writeError);
    else this.store.markEnded(final.run_id);
    this.active.delete(final.run_id);
    run.end(final);
    return final;
  }

  private stop(run: Run, reason: StopReason): Promise<void> {
    return run.beginStop(reason, (job) => {
      // An agent spoken to over a protocol (ACP) is asked to stop its turn first, briefly; then its process tree goes.
      if ((reason !== 'close' && reason !== 'idle') || !run.session) return (run.session?.cancelTurn(PROTOCOL_CANCEL_MS) ?? Promise.resolve()).then(() => job.terminate());
      run.session.close();
      return Promise.race([
        job.exited.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), run.plan.killGraceMs).unref()),
      ]).then((exited) => (exited ? undefined : job.terminate()));
    });
  }

  /** A budget the run is under is spent or out of time: a queued run ends where it is, a running one is stopped. */
  private async stopForBudget(run: Run, message: string): Promise<void> {
    if (run.phase === 'queued') {
      if (this.queue.remove(run)) await this.endQueued(run, new FractaError('budget_exhausted', message));
      return;
    }
    run.budgetMessage ??= message;
    await this.stop(run, 'budget');
  }

  /** Told of each request new to a run of this process (asked there, or relayed up to it); returns the unsubscribe. */
  onRequest(listener: (runId: string, runtime: string, request: PendingRequest) => void): () => void {
    const wrapped = (run: Run, request: PendingRequest) => listener(run.runId, run.plan.resolved.runtime.name, request);
    this.pending.listeners.add(wrapped);
    return () => this.pending.listeners.delete(wrapped);
  }

  /** Follows a run's events as they happen (runs of this process only); returns the unsubscribe. */
  subscribe(runId: string, listener: (event: LoggedEvent) => void): () => void {
    return this.active.get(runId)?.subscribe(listener) ?? (() => undefined);
  }

  /** Sends the next message of a live session, here or (through its inbox) in the process that owns it. */
  async send(runId: string, message: string): Promise<RunRecord> {
    const run = this.active.get(checkRunId(runId));
    if (!run?.session) return sendElsewhere(this.store, runId, message);
    if (!run.record.stream) throw new FractaError('session_closed', `run ${runId} is not a live session: spawn with stream: true to send it messages`, 'run_id');
    if (run.phase === 'stopping' || run.phase === 'ending' || run.phase === 'ended') throw new FractaError('session_closed', `run ${runId} is closing and takes no more messages`);
    if (run.session.live) {
      await run.session.send(message);
      run.update({ awaiting_input: false });
    } else {
      await nextTurn(run, run.session, message, (spec) => this.startProcess(run, spec));
    }
    return run.record;
  }

  /** Ends a live session normally: its input is closed and its last turn is the result. */
  async close(runId: string): Promise<RunRecord> {
    const run = this.active.get(checkRunId(runId));
    if (!run?.job) return closeElsewhere(this.store, runId, () => this.status(runId));
    if (!run.session) throw new FractaError('session_closed', `run ${runId} is not a live session; cancel stops it`, 'run_id');
    await this.stop(run, 'close');
    return run.ended;
  }

  /**
   * The record once a decision of request `requestId` is in it: folded at once for a run of this
   * process, else waited for (bounded) while its owner folds it.
   */
  async afterAnswer(runId: string, requestId: string): Promise<RunRecord> {
    const run = this.active.get(checkRunId(runId));
    if (run) await this.pending.sync(run);
    return untilDecided(() => this.status(runId), requestId);
  }

  /** The current record (from memory when this process runs it, else from disk), with its children. */
  async status(runId: string): Promise<RunRecord> {
    checkRunId(runId);
    const record = this.active.get(runId)?.record ?? this.unwritten.get(runId) ?? (await this.store.read(runId));
    return { ...this.budgets.withView(record), children: this.store.children(runId) };
  }

  /** A record read from disk, with its budget and its tree's spend as the ledger has them now. */
  withBudget(record: RunRecord): RunRecord {
    return this.budgets.withView(record);
  }

  /**
   * Resolves with the record when the run ends or `timeoutMs` passes (then it is still running), or
   * when `signal` aborts. Runs of other fracta processes are followed through their record on disk.
   */
  async wait(runId: string, timeoutMs: number, signal?: AbortSignal, afterTurn = -1): Promise<RunRecord> {
    const run = this.active.get(checkRunId(runId));
    if (run) return run.settle(timeoutMs, signal, afterTurn);
    return waitOnDisk(() => this.status(runId), timeoutMs, signal, afterTurn);
  }

  /** Stops a run (this process's, or another fracta process's) and returns its terminal record. */
  async cancel(runId: string): Promise<RunRecord> {
    const run = this.active.get(checkRunId(runId));
    if (run && this.queue.remove(run)) return this.endQueued(run, 'cancel');
    if (run?.job) {
      await this.stop(run, 'cancel');
      return run.ended;
    }
    return cancelElsewhere(this.store, runId, this.killGraceMs, this.options.remote, () => this.status(runId));
  }

  /** Stops every run this process owns (client gone, or a signal) and records why. */
  async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.starting]);
    await Promise.all(this.queue.drain().map((run) => this.endQueued(run, 'shutdown')));
    const runs = [...this.active.values()];
    // A run whose budget is spent is stopped for that, not for the shutdown its parent's end set off.
    await Promise.all(runs.map((run) => {
      const spent = this.budgets.stopMessage(run);
      return spent ? this.stopForBudget(run, spent) : this.stop(run, 'shutdown');
    }));
    await Promise.all(runs.map((run) => run.ended));
  }
}
