/**
 * fracta's core as one service with two front ends (the MCP server and the CLI): parse a request,
 * plan it, hand it to the runs layer, and answer questions about runs and runtimes. Nothing here
 * knows about MCP.
 */
import type fsp from 'node:fs/promises';
import { ConfigSource } from './config/source.js';
import type { FractaConfig } from './config/runtime.js';
import type { ExecutionBackend } from './executor/backend.js';
import { localBackend } from './executor/local.js';
import { findCommand } from './executor/which.js';
import { ADAPTERS } from './host/adapters.js';
import { RuntimeRegistry } from './host/registry.js';
import { fractaHome } from './paths.js';
import { DEFAULT_WAIT_S, FRACTA_ENV, LONGEST_WAIT_S } from './names.js';
import { capWait } from './wait-ceiling.js';
import { traceBegin, traceCall, traceEnd } from './trace.js';
import { waitForRuns, type WaitResult } from './runs/wait-many.js';
import {
  parseRequest,
  runIdRequestSchema,
  runsRequestSchema,
  sendRequestSchema,
  cleanRequestSchema,
  spawnRequestSchema,
  answerRequestSchema,
  askParentRequestSchema,
  approvalPromptRequestSchema,
  type SpawnRequest,
  waitRequestSchema,
} from './requests.js';
import { isTerminal, type PendingRequest, type RunRecord } from './record.js';
import { describeRecovery, recoverHome, type Recovery } from './runs/recovery.js';
import type { LoggedEvent } from './events.js';
import { homeLabel, KubernetesRemote } from './executor/kubernetes/remote.js';
import { cleanWorkspaces, type CleanReport } from './runs/clean.js';
import { openRunLog, readRunLog, type LogChunk, type LogStream } from './runs/logs.js';
import { Runner } from './runs/runner.js';
import { verifyLineage } from './spawn/lineage.js';
import { findResume } from './spawn/resume.js';
import { RunStore } from './runs/store.js';
import { planSpawn, type SpawnPlan } from './spawn/plan.js';
import { maskError, maskSecrets } from './secrets.js';
import { FractaError } from './errors.js';
import { approvalPolicy } from './config/approvals.js';
import { askAbove, decideRequest, type Decided } from './runs/ask.js';
import { knownSecrets } from './config/env.js';
import type { RuntimeInfo } from './runtime-info.js';
import { moneySource } from './budget/pricing.js';
import { readProbe, type Probe } from './probes.js';
import { probeAgent } from './runs/probe.js';
import { resolveChildEnv } from './config/env.js';

export type { LogChunk } from './runs/logs.js';

export interface FractaOptions {
  /** --config PATH, which beats FRACTA_CONFIG and the default locations. */
  readonly configPath?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** The backend of runs on this machine (the local one unless given). */
  readonly backend?: ExecutionBackend;
}

/** Told of a new pending request of a run of this process. */
type RequestListener = (runId: string, runtime: string, request: PendingRequest) => void;

/** Told the run ids while a call waits on them (progress); returns how to stop following. */
export type Follow = (runIds: readonly string[]) => () => Promise<void>;

/** What a front end's call brings besides its arguments. */
export interface CallOptions {
  /** Aborted when the caller gives up (the MCP request is cancelled); the run goes on. */
  readonly signal?: AbortSignal | undefined;
  readonly follow?: Follow | undefined;
  /** The longest this call may wait, in seconds: the client's wait ceiling (none given: LONGEST_WAIT_S). */
  readonly ceilingS?: number | undefined;
}

export type { WaitResult } from './runs/wait-many.js';

async function following<T>(runIds: readonly string[], follow: Follow | undefined, work: () => Promise<T>): Promise<T> {
  const stop = follow?.(runIds);
  try {
    return await work();
  } finally {
    await stop?.();
  }
}

export class Fracta {
  private readonly configSource: ConfigSource;
  private readonly env: NodeJS.ProcessEnv;
  private readonly backend: ExecutionBackend;
  private runnerInstance: Runner | undefined;
  private recovered: Promise<Recovery> | undefined;
  private remoteInstance: KubernetesRemote | undefined;
  private readonly requestListeners = new Set<RequestListener>();

  constructor(options: FractaOptions = {}) {
    this.env = options.env ?? process.env;
    this.configSource = new ConfigSource(options.configPath, ADAPTERS);
    this.backend = options.backend ?? localBackend;
  }

  config(): FractaConfig {
    return this.configSource.current();
  }

  /** The state folder this process uses (FRACTA_HOME). */
  home(): string {
    return fractaHome(this.env);
  }

  /** Runs on clusters: nothing of the kubernetes client loads until a run or a Job needs it. */
  private get remote(): KubernetesRemote {
    this.remoteInstance ??= new KubernetesRemote(() => this.config(), homeLabel(fractaHome(this.env)));
    return this.remoteInstance;
  }

  /** Created on first use, so that listing tools touches no disk. */
  private get runner(): Runner {
    if (!this.runnerInstance) {
      this.runnerInstance = new Runner(new RunStore(fractaHome(this.env)), { remote: this.remote });
      this.runnerInstance.onRequest((runId, runtime, request) => {
        if (this.requestListeners.size === 0 || approvalPolicy(this.config(), runtime).askHuman !== 'auto') return;
        for (const listener of this.requestListeners) listener(runId, runtime, request);
      });
    }
    return this.runnerInstance;
  }

  private get store(): RunStore {
    return this.runner.store;
  }

  /**
   * Crash recovery, once per process before anything reads or starts runs: runs whose fracta died
   * are marked interrupted, and their still-running children killed (src/runs/recovery.ts).
   */
  private ready(): Promise<Recovery> {
    this.recovered ??= (async () => {
      let graceS = 5;
      try {
        graceS = this.config().killGraceS;
      } catch {
        // a broken config is reported by the call that needs it
      }
      return recoverHome(this.store, graceS * 1000, this.remote);
    })();
    return this.recovered;
  }

  /** What crash recovery did on this machine, a line each, for stderr. */
  async recoveryLines(): Promise<string[]> {
    return describeRecovery((await this.ready()).report);
  }

  /** What recovery did on clusters (Jobs of dead runs deleted, orphans reconciled), a line each, once it is done. */
  async clusterReport(): Promise<string[]> {
    return (await this.ready()).clusters;
  }

  /** Whether a kubernetes runtime's cluster answers (fracta doctor); rejects with why not. */
  async reachCluster(runtime: string): Promise<number> {
    return this.remote.reach(runtime);
  }

  /** Follows a run's events as they happen (runs of this process only); returns the unsubscribe. */
  follow(runId: string, listener: (event: LoggedEvent) => void): () => void {
    return this.runner.subscribe(runId, listener);
  }

  /** Runs this process owns that have not ended. */
  activeCount(): number {
    return this.runnerInstance?.activeCount() ?? 0;
  }

  /** Starts a run; returns its record and how long the caller asked to wait for it. */
  async start(raw: unknown, ceilingS = LONGEST_WAIT_S): Promise<{ record: RunRecord; waitMs: number }> {
    traceBegin();
    await this.ready();
    const config = this.config();
    let plan: SpawnPlan;
    let request: SpawnRequest;
    try {
      request = parseRequest(spawnRequestSchema, raw, 'spawn');
      traceCall('parsed');
      plan = await this.plan(request, config);
      traceCall('planned');
    } catch (error) {
      // Raised before the run has its own list of secrets, and may quote the request.
      throw maskError(error, knownSecrets(config, this.env));
    }
    const record = await this.runner.start(plan);
    return { record, waitMs: capWait(request.wait_s, DEFAULT_WAIT_S, ceilingS) };
  }

  private async plan(request: SpawnRequest, config: FractaConfig): Promise<SpawnPlan> {
    return planSpawn(request, {
      config,
      home: fractaHome(this.env),
      env: this.env,
      workspaceFor: (runId) => this.store.workspacePath(runId),
      // The chain from the parent's record; the environment only names the claim.
      parent: await verifyLineage(this.env, (runId) => this.runner.status(runId)),
      findResume: (resolved) => findResume(request, resolved, this.store),
      countChildren: (runId) => this.store.children(runId).length,
      local: this.backend,
      cluster: this.remote,
    });
  }

  /**
   * Starts a run and waits up to `wait_s` for it; the run goes on whatever happens to the caller.
   * `follow` is handed the run id while the call waits (progress), and returns how to stop following.
   */
  async spawn(raw: unknown, call: CallOptions = {}): Promise<RunRecord> {
    const { record, waitMs } = await this.start(raw, call.ceilingS);
    // A queued run is waited for too: wait_s covers the queue and the run.
    if (isTerminal(record.status) || waitMs === 0) return record;
    const answer = await following([record.run_id], call.follow, () => this.runner.wait(record.run_id, waitMs, call.signal));
    traceEnd(record.run_id, 'answered');
    return answer;
  }

  /**
   * Waits on one run or several (run_ids, mode any or all) up to timeout_s, held to the caller's
   * ceiling; returns every run's record and which of them are ready (ended, or needing input).
   */
  async waitRuns(raw: unknown, call: CallOptions = {}): Promise<WaitResult> {
    await this.ready();
    const request = parseRequest(waitRequestSchema, raw, 'wait');
    const runIds = [...new Set([...(request.run_id === undefined ? [] : [request.run_id]), ...(request.run_ids ?? [])])];
    const ceilingS = call.ceilingS ?? LONGEST_WAIT_S;
    const timeoutMs = capWait(request.timeout_s, ceilingS, ceilingS);
    return following(runIds, call.follow, () =>
      waitForRuns(runIds, request.mode ?? 'any', timeoutMs, call.signal, {
        status: (runId) => this.runner.status(runId),
        wait: (runId, ms, signal) => this.runner.wait(runId, ms, signal),
      }),
    );
  }

  /** One run's wait: its record. */
  async wait(raw: unknown, call: CallOptions = {}): Promise<RunRecord> {
    return (await this.waitRuns(raw, call)).record;
  }

  /** Waits with no upper bound (the CLI's `fracta spawn` does this). */
  async waitForEnd(runId: string): Promise<RunRecord> {
    return this.runner.wait(runId, Number.MAX_SAFE_INTEGER);
  }

  /** Sends the next message to a live session and waits up to wait_s for the agent's answer. */
  async send(raw: unknown, call: CallOptions = {}): Promise<RunRecord> {
    await this.ready();
    const request = parseRequest(sendRequestSchema, raw, 'send');
    return following([request.run_id], call.follow, async () => {
      const before = await this.runner.status(request.run_id);
      const sent = await this.runner.send(request.run_id, request.message);
      const waitMs = capWait(request.wait_s, DEFAULT_WAIT_S, call.ceilingS ?? LONGEST_WAIT_S);
      if (waitMs === 0) return sent;
      return this.runner.wait(request.run_id, waitMs, call.signal, before.turns_done);
    });
  }

  async close(raw: unknown): Promise<RunRecord> {
    await this.ready();
    return this.runner.close(parseRequest(runIdRequestSchema, raw, 'close').run_id);
  }

  /** Removes the workspaces of runs that ended longer ago than older_than_s (default a day). */
  async clean(raw: unknown): Promise<CleanReport> {
    await this.ready();
    const request = parseRequest(cleanRequestSchema, raw, 'clean');
    return cleanWorkspaces(this.store, (request.older_than_s ?? 86_400) * 1000);
  }

  async status(raw: unknown): Promise<RunRecord> {
    await this.ready();
    return this.runner.status(parseRequest(runIdRequestSchema, raw, 'status').run_id);
  }

  async cancel(raw: unknown): Promise<RunRecord> {
    await this.ready();
    return this.runner.cancel(parseRequest(runIdRequestSchema, raw, 'cancel').run_id);
  }

  async runs(raw: unknown): Promise<RunRecord[]> {
    await this.ready();
    const request = parseRequest(runsRequestSchema, raw, 'runs');
    const runs = await this.store.list({ status: request.status, limit: request.limit ?? 20 });
    return runs.map((run) => ({ ...this.runner.withBudget(run), children: this.store.children(run.run_id) }));
  }

  runtimes(): RuntimeInfo[] {
    const config = this.config();
    return RuntimeRegistry.fromConfig(config)
      .list()
      .map(({ runtime, host, capabilities, tier }) => {
        const command = host.command();
        const env = { ...this.env, ...runtime.env };
        return {
          name: runtime.name,
          default: runtime.name === config.defaultRuntime,
          description: runtime.description ?? null,
          host: runtime.adapter,
          tier,
          capabilities: { ...capabilities },
          model: runtime.model ?? null,
          model_tiers: { ...runtime.modelTiers },
          command,
          command_path: findCommand(command, env.PATH, config.baseDir),
          money: moneySource(runtime.model, host.reportsCost, config.pricing),
          probe: host.probe ? readProbe(fractaHome(this.env), runtime.name) : null,
          env_keys: Object.keys(runtime.env),
          backend: runtime.backend ?? 'local',
          kubernetes: runtime.kubernetes
            ? {
                namespace: runtime.kubernetes.namespace ?? null,
                image: runtime.kubernetes.image ?? null,
                env: runtime.kubernetes.env.map((entry) =>
                  entry.secret_ref ? { name: entry.name, secret_ref: entry.secret_ref } : { name: entry.name, value: '(set)' },
                ),
              }
            : null,
        };
      });
  }

  /** Asks every runtime whose agent can say what it can (ACP's initialize), one after another; each answer is kept for `runtimes`. */
  async probe(): Promise<Probe[]> {
    const config = this.config();
    const home = fractaHome(this.env);
    const probes: Probe[] = [];
    for (const { runtime, host } of RuntimeRegistry.fromConfig(config).list()) {
      const probe = host.probe?.();
      if (!probe) continue;
      const childEnv = resolveChildEnv(runtime, this.env, { inherit: runtime.inheritEnv ?? config.inheritEnv, secretNames: config.secretEnv });
      probes.push(await probeAgent({ runtime: runtime.name, probe, env: childEnv.env, secrets: childEnv.secrets, baseDir: config.baseDir }, home, this.backend, config.killGraceS * 1000));
    }
    return probes;
  }

  /** A run's stdout (or stderr) log, opened for reading, or undefined when there is none (the run must exist). */
  async openLog(runId: string, stream: LogStream): Promise<fsp.FileHandle | undefined> {
    await this.ready();
    await this.runner.status(runId);
    return openRunLog(this.store, runId, stream);
  }

  /** A slice of a run's stdout (or stderr) log, for callers that page through a large output. */
  async readLog(runId: string, stream: LogStream, offset: number, maxBytes: number): Promise<LogChunk> {
    await this.ready();
    await this.runner.status(runId);
    return readRunLog(this.store, runId, stream, offset, maxBytes);
  }

  /**
   * The run whose agent this fracta serves (it was given to the agent with agent_mcp): the verified
   * FRACTA_PARENT_RUN, or a refusal naming the tool.
   */
  private async ownRun(tool: string): Promise<RunRecord> {
    const chain = await verifyLineage(this.env, (runId) => this.runner.status(runId));
    if (!chain.parentRun) throw new FractaError('invalid_input', `${tool} is for an agent fracta started with agent_mcp; this fracta serves no run`, 'name');
    return this.runner.status(chain.parentRun);
  }

  private mask(): (text: string) => string {
    const secrets = knownSecrets(this.config(), this.env);
    return (text) => maskSecrets(text, secrets);
  }

  /** ask_parent: the agent's question, raised on its run and answered from above (or by the timeout). */
  async askParent(raw: unknown, signal?: AbortSignal): Promise<Decided> {
    await this.ready();
    const request = parseRequest(askParentRequestSchema, raw, 'ask_parent');
    const run = await this.ownRun('ask_parent');
    const policy = approvalPolicy(this.config(), run.runtime);
    if (!policy.askParent) throw new FractaError('capability_missing', `runtime "${run.runtime}" turns ask_parent off (approvals.ask_parent: false)`, 'name');
    return askAbove(this.store, run.run_id, policy, { kind: 'question', question: request.question }, this.mask(), signal);
  }

  /** A permission the agent's CLI asks for (Claude Code's --permission-prompt-tool): the policy, else from above. */
  async approvalPrompt(raw: unknown, signal?: AbortSignal): Promise<Decided> {
    await this.ready();
    const request = parseRequest(approvalPromptRequestSchema, raw, 'approval_prompt');
    const run = await this.ownRun('approval_prompt');
    return askAbove(this.store, run.run_id, approvalPolicy(this.config(), run.runtime), { kind: 'permission', tool: request.tool_name, input: request.input }, this.mask(), signal);
  }

  /**
   * Told of each request new to a run of this process (asked there, or relayed up from below) that
   * its approvals let fracta put to the person at the client (ask_human: auto); returns the unsubscribe.
   */
  onPendingRequest(listener: RequestListener): () => void {
    // Kept here, not on the runner: listening touches no disk, and a process that never runs anything never makes one.
    this.requestListeners.add(listener);
    return () => this.requestListeners.delete(listener);
  }

  /** Decides a pending request of a run below the caller (the user may decide any); returns the run's record. */
  async answer(raw: unknown): Promise<RunRecord> {
    return this.decide(raw, undefined);
  }

  /** The person at this fracta's client decided (MCP elicitation): recorded as the human's decision. */
  async answerAsHuman(raw: unknown): Promise<RunRecord> {
    if (this.env[FRACTA_ENV.PARENT_RUN]) throw new FractaError('chain_invalid', 'only the fracta at the root of a tree asks its person', 'name');
    return this.decide(raw, 'human');
  }

  private async decide(raw: unknown, decidedBy: string | undefined): Promise<RunRecord> {
    await this.ready();
    const request = parseRequest(answerRequestSchema, raw, 'answer');
    const holder = (await this.runner.status(request.run_id)).run_id;
    const caller = (await verifyLineage(this.env, (runId) => this.runner.status(runId))).parentRun;
    await decideRequest(this.store, (runId) => this.runner.status(runId), holder, request.request_id, caller, {
      decision: request.decision,
      message: request.message === undefined ? null : this.mask()(request.message),
      scope: request.scope ?? 'once',
      ...(decidedBy ? { decidedBy } : {}),
    });
    return this.runner.afterAnswer(holder, request.request_id);
  }

  /** Stops every run this process owns; their records say why. */
  async shutdown(): Promise<void> {
    await this.runnerInstance?.shutdown();
  }
}
