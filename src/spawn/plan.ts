/**
 * Steps 1–4 of the spawn pipeline, and everything else that can fail before a side effect: resolve
 * the runtime and its host, the model, the capabilities the request needs, the child's environment,
 * the command line and the executable. A refusal here leaves no folder, no record and no process.
 */
import { resolveChildEnv, type ChildEnv } from '../config/env.js';
import { resolveModel } from '../config/model.js';
import type { FractaConfig } from '../config/runtime.js';
import type { CleanupPolicy } from '../config/schema.js';
import { FractaError } from '../errors.js';
import { findCommand } from '../executor/which.js';
import type { BootstrapFile, CommandSpec } from '../host/host.js';
import { RuntimeRegistry, type ResolvedRuntime } from '../host/registry.js';
import type { SpawnRequest } from '../requests.js';
import { newRunId } from '../runs/ids.js';

export interface SpawnPlan {
  readonly runId: string;
  readonly request: SpawnRequest;
  readonly resolved: ResolvedRuntime;
  readonly model: string | undefined;
  readonly workdir: string;
  readonly bootstrap: BootstrapFile;
  readonly command: CommandSpec;
  readonly childEnv: ChildEnv;
  readonly timeoutS: number;
  readonly killGraceMs: number;
  readonly cleanup: CleanupPolicy;
  readonly warnings: readonly string[];
}

/** The request's needs that a host must have, and how to say that it does not. */
const REQUIRED: ReadonlyArray<{
  wanted: (request: SpawnRequest) => boolean;
  capability: 'resumeToken' | 'stream' | 'agentMcp';
  field: string;
  what: string;
}> = [
  { wanted: (r) => r.resume_token !== undefined, capability: 'resumeToken', field: 'resume_token', what: 'resume a session' },
  { wanted: (r) => r.stream === true, capability: 'stream', field: 'stream', what: 'keep a live stream session' },
  { wanted: (r) => r.agent_mcp === true, capability: 'agentMcp', field: 'agent_mcp', what: 'give the agent fracta over MCP' },
];

export function checkCapabilities(request: SpawnRequest, resolved: ResolvedRuntime): string[] {
  const { runtime, capabilities, tier } = resolved;
  for (const need of REQUIRED) {
    if (need.wanted(request) && !capabilities[need.capability]) {
      throw new FractaError(
        'capability_missing',
        `runtime "${runtime.name}" (host ${runtime.adapter}, ${tier} tier) cannot ${need.what}: its host lacks the ${need.capability} capability. Spawn without ${need.field}, or pick a runtime that has it (fracta runtimes lists them).`,
        need.field,
      );
    }
  }
  const warnings: string[] = [];
  if (request.allowed_tools !== undefined && !capabilities.toolPermissions) {
    warnings.push(
      `runtime "${runtime.name}" (host ${runtime.adapter}) has no tool permissions, so allowed_tools was not applied: the agent ran with its CLI's own defaults`,
    );
  }
  return warnings;
}

export interface PlanContext {
  readonly config: FractaConfig;
  /** Where workspaces go: a function of the run id. */
  readonly workspaceFor: (runId: string) => string;
  readonly env: NodeJS.ProcessEnv;
}

export function planSpawn(request: SpawnRequest, context: PlanContext): SpawnPlan {
  const { config } = context;
  const resolved = RuntimeRegistry.fromConfig(config).resolve(request.runtime);
  const { runtime, host } = resolved;
  const warnings = checkCapabilities(request, resolved);

  const choice = resolveModel(runtime, request.model, request.tier);
  if (choice.warning) warnings.push(choice.warning);
  const childEnv = resolveChildEnv(runtime, context.env);

  const runId = newRunId();
  const workdir = context.workspaceFor(runId);
  const bootstrap = host.bootstrap(request.task, undefined, request.contract);
  const command = host.buildBatchCommand({
    prompt: bootstrap.initialPrompt,
    model: choice.model,
    resumeToken: request.resume_token,
    workdir,
  });
  const env = { ...childEnv.env, ...command.env };
  // Run what was found, by absolute path: the child's cwd is the workspace, not where fracta started.
  const executable = findCommand(command.command, env.PATH, config.baseDir);
  if (!executable) {
    throw new FractaError(
      'command_not_found',
      `runtime "${runtime.name}" needs the \`${command.command}\` command on PATH: install it, or set command to its absolute path in fracta.yaml`,
      'runtime',
    );
  }

  return {
    runId,
    request,
    resolved,
    model: choice.model,
    workdir,
    bootstrap,
    command: { ...command, command: executable },
    childEnv: { env, secrets: childEnv.secrets },
    timeoutS: request.timeout_s ?? runtime.timeoutS ?? config.timeoutS,
    killGraceMs: config.killGraceS * 1000,
    cleanup: request.cleanup ?? runtime.cleanup ?? config.cleanup,
    warnings,
  };
}
