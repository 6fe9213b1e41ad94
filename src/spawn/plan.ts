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
import { MIN_SECRET_LENGTH } from '../secrets.js';
import { findCommand } from '../executor/which.js';
import type { BootstrapFile, CommandInput, CommandSpec, McpServerEntry, StreamSpec } from '../host/host.js';
import { RuntimeRegistry, type ResolvedRuntime } from '../host/registry.js';
import type { SpawnRequest } from '../requests.js';
import { newRunId } from '../run-id.js';
import { planRepoWorkspace, type RepoWorkspace } from '../workspace/repo.js';
import { POD_WORKDIR } from '../executor/kubernetes/types.js';
import { checkPromptNotInArgs, checkStreamOnCluster, chooseBackend, planKubernetes, podEnv, type KubernetesPlan } from './kubernetes.js';

/** Where a run sits in a chain of agents spawning agents. */
/**
 * The chain a spawn joins, as the service verified it from the parent's record (runs/lineage.ts):
 * the environment only names the claim.
 */
export interface ParentChain {
  readonly parentRun: string | null;
  /** The root of the chain; undefined for a root spawn (its own run id). */
  readonly rootRun: string | undefined;
  /** 1 for a spawn from a user's client, 2 for one made by that run's agent, ... */
  readonly depth: number;
}

export interface Lineage {
  readonly parentRun: string | null;
  readonly rootRun: string;
  /** 1 for a spawn from a user's client, 2 for one made by that run's agent, ... */
  readonly depth: number;
}

/** A session to continue, found by the service from resume_run or resume_token. */
export interface ResumeTarget {
  readonly token: string;
  /** The run that started it, when fracta knows it. */
  readonly fromRun: string | undefined;
  /** The folder the session must be resumed from, for hosts whose sessions are bound to one. */
  readonly workdir: string | undefined;
}

export interface SpawnPlan {
  readonly runId: string;
  readonly request: SpawnRequest;
  readonly resolved: ResolvedRuntime;
  readonly model: string | undefined;
  readonly workdir: string;
  /** The workspace belongs to an earlier run (a resume): this run never removes it. */
  readonly sharedWorkspace: boolean;
  /** A workspace on the user's repository (worktree, copy or inplace); undefined: a fresh folder. */
  readonly repo: RepoWorkspace | undefined;
  readonly resume: ResumeTarget | undefined;
  readonly lineage: Lineage;
  readonly bootstrap: BootstrapFile;
  /** A StreamSpec for a live session (stream: true). */
  readonly command: CommandSpec | StreamSpec;
  /** What the command was built from: a session that resumes per turn builds the next one from it. */
  readonly commandInput: CommandInput;
  readonly fractaServer: McpServerEntry | undefined;
  readonly childEnv: ChildEnv;
  readonly timeoutS: number;
  readonly killGraceMs: number;
  readonly cleanup: CleanupPolicy;
  /** A live session that waits this long for a message is closed. */
  readonly sessionIdleMs: number;
  /** End the run as timed_out after this long without output (undefined: never). */
  readonly idleTimeoutMs: number | undefined;
  /** Runs of this runtime at once, and in all, across processes sharing FRACTA_HOME. */
  readonly maxRuntimeConcurrent: number;
  readonly maxConcurrent: number;
  readonly maxChildren: number;
  readonly warnings: readonly string[];
  /** Set when the run goes to a cluster: the workspace above is then only where the host's files are staged. */
  readonly kubernetes: KubernetesPlan | undefined;
}

/** The request's needs that a host must have, and how to say that it does not. */
const REQUIRED: ReadonlyArray<{
  wanted: (request: SpawnRequest) => boolean;
  capability: 'resumeToken' | 'stream' | 'agentMcp';
  field: string;
  what: string;
}> = [
  { wanted: (r) => r.resume_token !== undefined, capability: 'resumeToken', field: 'resume_token', what: 'resume a session' },
  { wanted: (r) => r.resume_run !== undefined, capability: 'resumeToken', field: 'resume_run', what: 'resume a session' },
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
  /** The chain this fracta process spawns in, verified against the parent's record (runs/lineage.ts). */
  readonly parent: ParentChain;
  /** Finds the session a resume_run/resume_token continues; throws when it cannot be resumed. */
  readonly findResume: (resolved: ResolvedRuntime) => Promise<ResumeTarget | undefined>;
  /** fracta's own MCP server, as a child started for this run should see it. */
  readonly fractaServer: (lineage: Lineage) => McpServerEntry;
  /** fracta's state folder, shared with the fracta a child starts. */
  readonly home: string;
  /** How many runs a run has spawned so far. */
  readonly countChildren: (runId: string) => number;
}

/** The recursion guard: agents spawning agents stop at max_depth and max_children, before any side effect. */
function checkChain(context: PlanContext): void {
  const { config, parent } = context;
  if (parent.depth > config.maxDepth) {
    throw new FractaError(
      'depth_limit',
      `this spawn would be at depth ${parent.depth} (made by the agent of run ${parent.parentRun ?? '?'}), beyond agents.max_depth: ${config.maxDepth}; raise max_depth in fracta.yaml to let agents spawn deeper`,
      'depth',
    );
  }
  if (parent.parentRun && context.countChildren(parent.parentRun) >= config.maxChildren) {
    throw new FractaError(
      'children_limit',
      `run ${parent.parentRun} has already spawned ${config.maxChildren} runs, the limit agents.max_children: ${config.maxChildren}; raise max_children in fracta.yaml to allow more`,
      'parent_run',
    );
  }
}

export async function planSpawn(request: SpawnRequest, context: PlanContext): Promise<SpawnPlan> {
  const { config } = context;
  const resolved = RuntimeRegistry.fromConfig(config).resolve(request.runtime);
  const { runtime, host } = resolved;
  const warnings = checkCapabilities(request, resolved);
  const runId = newRunId();
  // What a run on a cluster cannot do is said before anything else is looked up.
  const cluster = chooseBackend(request, runtime) === 'kubernetes' ? await planKubernetes(request, runtime, runId) : undefined;
  const resume = await context.findResume(resolved);

  checkChain(context);

  const choice = resolveModel(runtime, request.model, request.tier);
  if (choice.warning) warnings.push(choice.warning);
  const childEnv = resolveChildEnv(runtime, context.env, {
    inherit: runtime.inheritEnv ?? config.inheritEnv,
    secretNames: config.secretEnv,
  });
  if (childEnv.unmasked.length > 0) {
    warnings.push(
      `the secret in ${childEnv.unmasked.join(', ')} is shorter than ${MIN_SECRET_LENGTH} characters and is not masked (masking it would garble every output): use a longer secret, or do not give it to the child`,
    );
  }

  const lineage: Lineage = {
    parentRun: context.parent.parentRun,
    rootRun: context.parent.rootRun ?? runId,
    depth: context.parent.depth,
  };
  const sharedWorkspace = resume?.workdir !== undefined;
  if (request.workspace !== undefined && request.repo === undefined) {
    throw new FractaError('invalid_input', 'workspace: a workspace mode needs repo (the folder to work on)', 'workspace');
  }
  if ((request.base_branch !== undefined || request.branch !== undefined) && request.repo === undefined) {
    throw new FractaError('invalid_input', `${request.branch !== undefined ? 'branch' : 'base_branch'}: needs repo (the repository to branch from)`, request.branch !== undefined ? 'branch' : 'base_branch');
  }
  if (sharedWorkspace && request.repo !== undefined) {
    throw new FractaError('invalid_input', "repo: a resumed session runs in its first run's workspace; leave repo out when resuming", 'repo');
  }
  const repo =
    request.repo === undefined || cluster
      ? undefined
      : await planRepoWorkspace({
          repo: request.repo,
          baseBranch: request.base_branch,
          branch: request.branch,
          mode: request.workspace,
          task: request.task,
          runId,
          allowedRoots: config.allowedRepoRoots,
          secrets: childEnv.secrets,
        });
  if (repo) warnings.push(...repo.warnings);
  const workdir = resume?.workdir ?? (repo?.mode === 'inplace' ? repo.repo : context.workspaceFor(runId));
  const bootstrap = host.bootstrap(request.task, undefined, request.contract);
  // What the child needs to know to spawn grandchildren in the same chain and state folder.
  const lineageEnv: Record<string, string> = {
    FRACTA_PARENT_RUN: runId,
    FRACTA_ROOT_RUN: lineage.rootRun,
    FRACTA_DEPTH: String(lineage.depth),
  };
  // On a cluster the command is built for the pod (its workspace, no local environment).
  const env: Record<string, string> = cluster ? lineageEnv : { ...childEnv.env, FRACTA_HOME: context.home, ...lineageEnv };
  const input: CommandInput = {
    prompt: bootstrap.initialPrompt,
    model: choice.model,
    resumeToken: resume?.token,
    workdir: cluster ? POD_WORKDIR : workdir,
    allowedTools: request.allowed_tools,
    agentMcp: request.agent_mcp === true,
    env,
  };
  const command = request.stream ? host.buildStreamCommand(input) : host.buildBatchCommand(input);
  warnings.push(...(command.warnings ?? []));
  const childProcessEnv = { ...env, ...command.env };
  let kubernetes: KubernetesPlan | undefined;
  if (cluster) {
    checkStreamOnCluster(runtime, command);
    checkPromptNotInArgs(runtime, input.prompt, command.args);
    kubernetes = { ...cluster, fractaEnv: podEnv(runId, lineageEnv, command, childEnv) };
  }
  // Run what was found, by absolute path: the child's cwd is the workspace, not where fracta started.
  // A pod runs the command as its image has it.
  const executable = cluster ? command.command : findCommand(command.command, childProcessEnv.PATH, config.baseDir);
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
    sharedWorkspace,
    repo,
    resume,
    lineage,
    bootstrap,
    command: { ...command, command: executable },
    commandInput: input,
    fractaServer: request.agent_mcp ? context.fractaServer({ ...lineage, parentRun: runId }) : undefined,
    childEnv: { ...childEnv, env: childProcessEnv },
    timeoutS: request.timeout_s ?? runtime.timeoutS ?? config.timeoutS,
    killGraceMs: config.killGraceS * 1000,
    cleanup: request.cleanup ?? runtime.cleanup ?? config.cleanup,
    sessionIdleMs: config.sessionIdleS * 1000,
    idleTimeoutMs: (runtime.idleTimeoutS ?? config.idleTimeoutS ?? 0) * 1000 || undefined,
    maxRuntimeConcurrent: runtime.maxConcurrent ?? config.maxRuntimeConcurrent,
    maxConcurrent: config.maxConcurrent,
    maxChildren: config.maxChildren,
    warnings,
    kubernetes,
  };
}
