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
import {
  DEFAULT_WAIT_S,
  MAX_WAIT_S,
  parseRequest,
  runIdRequestSchema,
  runsRequestSchema,
  spawnRequestSchema,
  waitRequestSchema,
} from './requests.js';
import type { RunRecord } from './runs/record.js';
import { Runner } from './runs/runner.js';
import { RunStore } from './runs/store.js';
import { planSpawn } from './spawn/plan.js';
import type { RuntimeInfo } from './runtime-info.js';

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

  constructor(options: FractaOptions = {}) {
    this.env = options.env ?? process.env;
    this.configSource = new ConfigSource(options.configPath);
    this.backend = options.backend ?? localBackend;
  }

  config(): FractaConfig {
    return this.configSource.current();
  }

  /** Created on first use, so that listing tools touches no disk. */
  get runner(): Runner {
    this.runnerInstance ??= new Runner(new RunStore(fractaHome(this.env)), this.backend);
    return this.runnerInstance;
  }

  /** Starts a run; returns its record and how long the caller asked to wait for it. */
  async start(raw: unknown): Promise<{ record: RunRecord; waitMs: number }> {
    const request = parseRequest(spawnRequestSchema, raw, 'spawn');
    const plan = planSpawn(request, {
      config: this.config(),
      workspaceFor: (runId) => this.runner.store.workspacePath(runId),
      env: this.env,
    });
    const record = await this.runner.start(plan);
    return { record, waitMs: (request.wait_s ?? DEFAULT_WAIT_S) * 1000 };
  }

  /** Starts a run and waits up to `wait_s` for it; the run goes on whatever happens to the caller. */
  async spawn(raw: unknown, signal?: AbortSignal): Promise<RunRecord> {
    const { record, waitMs } = await this.start(raw);
    if (record.status !== 'running' || waitMs === 0) return record;
    return this.runner.wait(record.run_id, waitMs, signal);
  }

  async wait(raw: unknown, signal?: AbortSignal): Promise<RunRecord> {
    const request = parseRequest(waitRequestSchema, raw, 'wait');
    return this.runner.wait(request.run_id, (request.timeout_s ?? MAX_WAIT_S) * 1000, signal);
  }

  /** Waits with no upper bound (the CLI's `fracta spawn` does this). */
  async waitForEnd(runId: string): Promise<RunRecord> {
    return this.runner.wait(runId, Number.MAX_SAFE_INTEGER);
  }

  async status(raw: unknown): Promise<RunRecord> {
    return this.runner.status(parseRequest(runIdRequestSchema, raw, 'status').run_id);
  }

  async cancel(raw: unknown): Promise<RunRecord> {
    return this.runner.cancel(parseRequest(runIdRequestSchema, raw, 'cancel').run_id);
  }

  async runs(raw: unknown): Promise<RunRecord[]> {
    const request = parseRequest(runsRequestSchema, raw, 'runs');
    return this.runner.store.list({ status: request.status, limit: request.limit ?? 20 });
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

  /** A slice of a run's stdout (or stderr) log, for callers that page through a large output. */
  async readLog(runId: string, stream: 'stdout' | 'stderr', offset: number, maxBytes: number): Promise<LogChunk> {
    const record = await this.runner.status(runId);
    const file = stream === 'stdout' ? record.stdout_path : record.stderr_path;
    let total = 0;
    try {
      total = (await fsp.stat(file)).size;
    } catch {
      return { text: '', offset: 0, next_offset: 0, total_bytes: 0 };
    }
    const start = Math.min(Math.max(0, offset), total);
    const length = Math.min(maxBytes, total - start);
    const buffer = Buffer.alloc(length);
    const handle = await fsp.open(file, 'r');
    try {
      await handle.read(buffer, 0, length, start);
    } finally {
      await handle.close();
    }
    return { text: buffer.toString('utf8'), offset: start, next_offset: start + length, total_bytes: total };
  }

  /** Stops every run this process owns; their records say why. */
  async shutdown(): Promise<void> {
    await this.runnerInstance?.shutdown();
  }
}
