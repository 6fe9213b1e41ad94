/**
 * fracta's core as one service with two front ends (the MCP server and the CLI): validate, plan,
 * run, and answer questions about runs and runtimes. Nothing here knows about MCP.
 */
import fsp from 'node:fs/promises';
import { ConfigSource } from './config/source.js';
import type { FractaConfig } from './config/runtime.js';
import type { ExecutionBackend } from './executor/backend.js';
import { localBackend } from './executor/local.js';
import { findCommand } from './executor/which.js';
import { RuntimeRegistry } from './host/registry.js';
import { fractaHome } from './paths.js';
import { DEFAULT_WAIT_S, MAX_WAIT_S } from './names.js';
import {
  parseRequest,
  runIdRequestSchema,
  runsRequestSchema,
  sendRequestSchema,
  cleanRequestSchema,
  spawnRequestSchema,
  type SpawnRequest,
  waitRequestSchema,
} from './requests.js';
import { isTerminal, type RunRecord } from './record.js';
import { describeRecovery, recoverRuns, type RecoveryReport } from './runs/recovery.js';
import type { LoggedEvent } from './events.js';
import { homeLabel, KubernetesRemote } from './executor/kubernetes/remote.js';
import { cleanWorkspaces, type CleanReport } from './runs/clean.js';
import { Runner } from './runs/runner.js';
import { isRunId } from './run-id.js';
import { verifyLineage } from './runs/lineage.js';
import { RunStore } from './runs/store.js';
import { planSpawn, type Lineage, type ResumeTarget, type SpawnPlan } from './spawn/plan.js';
import { maskError } from './secrets.js';
import { knownSecrets } from './config/env.js';
import type { McpServerEntry } from './host/host.js';
import type { ResolvedRuntime } from './host/registry.js';
import { selfCommand } from './self.js';
import { FractaError } from './errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { isRepositoryTop } from './workspace/repo.js';
import type { RuntimeInfo } from './runtime-info.js';

/** How long recovery waits for a cluster to answer before it says so and moves on. */
const CLUSTER_CALL_MS = 30_000;

function clusterCall<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the cluster did not answer within ${CLUSTER_CALL_MS / 1000} s`)), CLUSTER_CALL_MS);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export interface FractaOptions {
  /** --config PATH, which beats FRACTA_CONFIG and the default locations. */
  readonly configPath?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly backend?: ExecutionBackend;
}

export interface LogChunk {
  readonly text: string;
  readonly offset: number;
  readonly next_offset: number;
  readonly total_bytes: number;
}

export class Fracta {
  private readonly configSource: ConfigSource;
  private readonly env: NodeJS.ProcessEnv;
  private readonly backend: ExecutionBackend;
  private runnerInstance: Runner | undefined;
  private recovered: Promise<RecoveryReport> | undefined;
  private remoteInstance: KubernetesRemote | undefined;
  private clusterWork: Promise<string[]> | undefined;

  constructor(options: FractaOptions = {}) {
    this.env = options.env ?? process.env;
    this.configSource = new ConfigSource(options.configPath);
    this.backend = options.backend ?? localBackend;
  }

  config(): FractaConfig {
    return this.configSource.current();
  }

  /** Runs on clusters: nothing of the kubernetes client loads until a run or a Job needs it. */
  private get remote(): KubernetesRemote {
    this.remoteInstance ??= new KubernetesRemote(() => this.config(), homeLabel(fractaHome(this.env)));
    return this.remoteInstance;
  }

  /** Created on first use, so that listing tools touches no disk. */
  get runner(): Runner {
    this.runnerInstance ??= new Runner(new RunStore(fractaHome(this.env)), { backend: this.backend, remote: this.remote });
    return this.runnerInstance;
  }

  /**
   * Crash recovery, once per process before anything reads or starts runs: runs whose fracta died
   * are marked interrupted, and their still-running children killed (src/runs/recovery.ts).
   */
  ready(): Promise<RecoveryReport> {
    this.recovered ??= (async () => {
      let graceS = 5;
      try {
        graceS = this.config().killGraceS;
      } catch {
        // a broken config is reported by the call that needs it
      }
      const store = this.runner.store;
      const deletions: Array<Promise<string>> = [];
      const report = await recoverRuns(store, graceS * 1000, (record) => {
        deletions.push(
          clusterCall(this.remote.stop(record)).then(
            () => `run ${record.run_id}: its Job ${record.kubernetes?.namespace}/${record.kubernetes?.job} was deleted`,
            (error: Error) => `run ${record.run_id}: its Job could not be deleted: ${error.message}`,
          ),
        );
      });
      // The clusters in the background: a cluster that does not answer holds up no spawn.
      this.clusterWork = (async () => {
        const lines = await Promise.all(deletions);
        const swept = await clusterCall(
          this.remote.reconcile(async (runId) => {
            const record = await store.read(runId).catch(() => undefined);
            return record !== undefined && !isTerminal(record.status);
          }),
        ).catch((error: Error) => {
          lines.push(`could not reconcile Jobs on the cluster: ${error.message}`);
          return { deleted: [], failed: [] };
        });
        const orphans = swept.deleted;
        if (orphans.length > 0) lines.push(`deleted ${orphans.length} Job(s) no run accounts for: ${orphans.map((orphan) => `${orphan.namespace}/${orphan.job}`).join(', ')}`);
        for (const failure of swept.failed) lines.push(`could not reconcile Jobs in namespace "${failure.namespace}": ${failure.message}`);
        return lines;
      })();
      return report;
    })();
    return this.recovered;
  }

  /** What crash recovery did on this machine, a line each, for stderr. */
  async recoveryLines(): Promise<string[]> {
    return describeRecovery(await this.ready());
  }

  /** Follows a run's events as they happen (runs of this process only); returns the unsubscribe. */
  follow(runId: string, listener: (event: LoggedEvent) => void): () => void {
    return this.runner.subscribe(runId, listener);
  }

  /** Waits up to `waitMs` for a run this call already checked (spawn's own wait after the start). */
  awaitRun(runId: string, waitMs: number, signal?: AbortSignal): Promise<RunRecord> {
    return this.runner.wait(runId, waitMs, signal);
  }

  /** Runs this process owns that have not ended. */
  activeCount(): number {
    return this.runnerInstance?.activeCount() ?? 0;
  }

  /** What recovery did on clusters (Jobs of dead runs deleted, orphans reconciled), a line each, once it is done. */
  async clusterReport(): Promise<string[]> {
    await this.ready();
    return this.clusterWork ?? [];
  }

  /** Starts a run; returns its record and how long the caller asked to wait for it. */
  async start(raw: unknown): Promise<{ record: RunRecord; waitMs: number }> {
    await this.ready();
    const config = this.config();
    let plan: SpawnPlan;
    let request: SpawnRequest;
    try {
      request = parseRequest(spawnRequestSchema, raw, 'spawn');
      plan = await this.plan(request, config);
    } catch (error) {
      // Raised before the run has its own list of secrets, and may quote the request.
      throw maskError(error, knownSecrets(config, this.env));
    }
    const record = await this.runner.start(plan);
    return { record, waitMs: (request.wait_s ?? DEFAULT_WAIT_S) * 1000 };
  }

  private async plan(request: SpawnRequest, config: FractaConfig): Promise<SpawnPlan> {
    const home = fractaHome(this.env);
    return planSpawn(request, {
      config,
      home,
      env: this.env,
      workspaceFor: (runId) => this.runner.store.workspacePath(runId),
      // The chain from the parent's record; the environment only names the claim.
      parent: await verifyLineage(this.env, (runId) => this.runner.status(runId)),
      findResume: (resolved) => this.findResume(request, resolved),
      fractaServer: (lineage) => this.fractaServer(config.source, home, lineage),
      countChildren: (runId) => this.runner.store.children(runId).length,
    });
  }

  /** fracta's own MCP server as the child of a run gets it: same config, same state, the chain in its env. */
  private fractaServer(configFile: string | null, home: string, lineage: Lineage): McpServerEntry {
    const self = selfCommand();
    return {
      command: self.command,
      args: [...self.args, 'mcp', ...(configFile ? ['--config', configFile] : [])],
      env: {
        FRACTA_HOME: home,
        FRACTA_PARENT_RUN: lineage.parentRun ?? '',
        FRACTA_ROOT_RUN: lineage.rootRun,
        FRACTA_DEPTH: String(lineage.depth),
      },
    };
  }

  /**
   * The session a spawn continues, and where: hosts whose sessions are bound to the folder they
   * started in resume there, or fracta says why it cannot; it never starts a new conversation instead.
   */
  private async findResume(request: SpawnRequest, resolved: ResolvedRuntime): Promise<ResumeTarget | undefined> {
    if (request.resume_run === undefined && request.resume_token === undefined) return undefined;
    const { runtime, host } = resolved;
    const store = this.runner.store;
    let origin: RunRecord | undefined;
    if (request.resume_run !== undefined) {
      origin = await store.read(request.resume_run).catch((error: FractaError) => {
        throw new FractaError(error.code, error.message, 'resume_run');
      });
      if (!origin.resume_token) {
        throw new FractaError('session_not_found', `run ${origin.run_id} has no session to resume (it ${origin.status} without a resume token)`, 'resume_run');
      }
      if (request.resume_token !== undefined && request.resume_token !== origin.resume_token) {
        throw new FractaError('invalid_input', `resume_token and resume_run name different sessions (run ${origin.run_id} has ${origin.resume_token}); give one of them`, 'resume_token');
      }
      if (origin.host !== runtime.adapter) {
        throw new FractaError('invalid_input', `run ${origin.run_id} ran on host ${origin.host} (runtime ${origin.runtime}); resume it with a runtime of that host`, 'resume_run');
      }
    } else {
      origin = await store.findBySession(runtime.adapter, request.resume_token!);
      if (!origin && host.resumeInSameWorkdir) {
        throw new FractaError(
          'session_not_found',
          `runtime "${runtime.name}" resumes a session only from the folder it started in, and no fracta run in ${store.runsDir} has session ${request.resume_token}: pass resume_run with the id of the run that started it`,
          'resume_token',
        );
      }
    }
    const token = request.resume_token ?? origin!.resume_token!;
    if (origin) await this.checkResumeWorkspace(origin);
    const workspaceGone = origin !== undefined && (origin.workspace_removed || !fs.existsSync(origin.workspace));
    // A host that can resume anywhere still resumes where the session's files are, when they are there.
    if (!host.resumeInSameWorkdir) return { token, fromRun: origin?.run_id, workdir: origin && !workspaceGone ? origin.workspace : undefined };
    if (workspaceGone) {
      throw new FractaError(
        'session_not_found',
        `the workspace of run ${origin!.run_id} (${origin!.workspace}) was removed, and runtime "${runtime.name}" resumes a session only from the folder it started in; start a new run instead (keep workspaces with cleanup: keep)`,
        request.resume_run !== undefined ? 'resume_run' : 'resume_token',
      );
    }
    return { token, fromRun: origin!.run_id, workdir: origin!.workspace };
  }

  /**
   * A record's workspace is where a resume runs and where fracta writes the next run's files, and a
   * child can rewrite records: only a folder of this FRACTA_HOME's workspaces (named by a run id), or
   * for an inplace run a repository's top level, is taken.
   */
  private async checkResumeWorkspace(origin: RunRecord): Promise<void> {
    const store = this.runner.store;
    const workspace = origin.workspace;
    const own = path.dirname(workspace) === store.workspacesDir && isRunId(path.basename(workspace));
    const repository = origin.workspace_mode === 'inplace' && (await isRepositoryTop(workspace));
    if (own || repository) return;
    throw new FractaError(
      'state_corrupt',
      `the record of run ${origin.run_id} names the workspace ${workspace}, which is neither a workspace of ${store.workspacesDir} nor a repository's top folder: fracta will not resume there; start a new run`,
      'resume_run',
    );
  }

  /** Starts a run and waits up to `wait_s` for it; the run goes on whatever happens to the caller. */
  async spawn(raw: unknown, signal?: AbortSignal): Promise<RunRecord> {
    const { record, waitMs } = await this.start(raw);
    if (isTerminal(record.status) || waitMs === 0) return record;
    return this.runner.wait(record.run_id, waitMs, signal);
  }

  async wait(raw: unknown, signal?: AbortSignal): Promise<RunRecord> {
    await this.ready();
    const request = parseRequest(waitRequestSchema, raw, 'wait');
    return this.runner.wait(request.run_id, (request.timeout_s ?? MAX_WAIT_S) * 1000, signal);
  }

  /** Waits with no upper bound (the CLI's `fracta spawn` does this). */
  async waitForEnd(runId: string): Promise<RunRecord> {
    return this.runner.wait(runId, Number.MAX_SAFE_INTEGER);
  }

  /** Sends the next message to a live session and waits up to wait_s for the agent's answer. */
  async send(raw: unknown, signal?: AbortSignal): Promise<RunRecord> {
    await this.ready();
    const request = parseRequest(sendRequestSchema, raw, 'send');
    const before = await this.runner.status(request.run_id);
    const sent = await this.runner.send(request.run_id, request.message);
    const waitMs = (request.wait_s ?? DEFAULT_WAIT_S) * 1000;
    if (waitMs === 0) return sent;
    return this.runner.wait(request.run_id, waitMs, signal, before.turns_done);
  }

  async close(raw: unknown): Promise<RunRecord> {
    await this.ready();
    return this.runner.close(parseRequest(runIdRequestSchema, raw, 'close').run_id);
  }

  /** Removes the workspaces of runs that ended longer ago than older_than_s (default a day). */
  async clean(raw: unknown): Promise<CleanReport> {
    await this.ready();
    const request = parseRequest(cleanRequestSchema, raw, 'clean');
    return cleanWorkspaces(this.runner.store, (request.older_than_s ?? 86_400) * 1000);
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
    const runs = await this.runner.store.list({ status: request.status, limit: request.limit ?? 20 });
    return runs.map((run) => ({ ...run, children: this.runner.store.children(run.run_id) }));
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

  /**
   * A run's stdout (or stderr) log, opened for reading, or undefined when there is none. The path comes
   * from the run id, never from the record, and only a regular file is opened (not a link, not a
   * FIFO): a child can rewrite records and its run folder to name any file.
   */
  async openLog(runId: string, stream: 'stdout' | 'stderr'): Promise<fsp.FileHandle | undefined> {
    await this.ready();
    await this.runner.status(runId);
    const store = this.runner.store;
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

  /** A slice of a run's stdout (or stderr) log, for callers that page through a large output. */
  async readLog(runId: string, stream: 'stdout' | 'stderr', offset: number, maxBytes: number): Promise<LogChunk> {
    const handle = await this.openLog(runId, stream);
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

  /** Stops every run this process owns; their records say why. */
  async shutdown(): Promise<void> {
    await this.runnerInstance?.shutdown();
  }
}
