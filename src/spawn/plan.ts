/**
 * A spawn's plan, and everything that can fail before a side effect: resolve the runtime and its
 * host, check the capabilities the request needs and the chain it joins, pick the backend (and, for
 * a cluster, what it cannot do), the model, the child's environment, the workspace, the command
 * line and the executable. A refusal here leaves no folder, no record and no process.
 */
import { waitCeiling } from '../wait-ceiling.js';
import { resolveChildEnv, type ChildEnv } from '../config/env.js';
import { resolveModel } from '../config/model.js';
import type { FractaConfig } from '../config/runtime.js';
import type { CleanupPolicy } from '../vocabulary.js';
import { FractaError } from '../errors.js';
import { MIN_SECRET_LENGTH } from '../secrets.js';
import { findCommand } from '../executor/which.js';
import type { BootstrapFile, CommandInput, CommandSpec, McpServerEntry, StreamSpec } from '../host/host.js';
import { bootstrapTask } from '../host/bootstrap.js';
import { approvalPolicy, type ApprovalPolicy } from '../config/approvals.js';
import { RuntimeRegistry, type ResolvedRuntime } from '../host/registry.js';
import type { SpawnRequest } from '../requests.js';
import type { Usage } from '../events.js';
import { newRunId } from '../run-id.js';
import { planRepoWorkspace, type RepoWorkspace } from '../workspace/repo.js';
import type { ExecutionBackend, RunTarget } from '../executor/backend.js';
import { chooseBackend, planKubernetes, type ClusterAccess } from './kubernetes.js';
import { fractaServerFor, type Lineage, type ParentChain } from './lineage.js';
import { chainEnv, FRACTA_ENV } from '../names.js';
import { planBudget, type PlannedBudget } from '../budget/limits.js';
import { readProbe } from '../probes.js';

/** A session to continue, found by the service from resume_run or resume_token. */
export interface ResumeTarget {
  readonly token: string;
  /** The run that started it, when fracta knows it. */
  readonly fromRun: string | undefined;
  /** The folder the session must be resumed from, for hosts whose sessions are bound to one. */
  readonly workdir: string | undefined;
  /** What the session's CLI last reported it used (for CLIs whose usage is the session's running total). */
  readonly usage?: Usage | undefined;
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
  /** Where the run goes: this machine, or (its settings bound in) a cluster. */
  readonly target: RunTarget;
  readonly budget: PlannedBudget;
  /** The runtime's approvals: what decides a permission fracta is asked for (an ACP agent's, or over MCP). */
  readonly approvals: ApprovalPolicy;
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
  /** The chain this fracta process spawns in, verified against the parent's record (spawn/lineage.ts). */
  readonly parent: ParentChain;
  /** Finds the session a resume_run/resume_token continues; throws when it cannot be resumed. */
  readonly findResume: (resolved: ResolvedRuntime) => Promise<ResumeTarget | undefined>;
  /** fracta's state folder, shared with the fracta a child starts. */
  readonly home: string;
  /** How many runs a run has spawned so far. */
  readonly countChildren: (runId: string) => number;
  /** The backend of runs on this machine. */
  readonly local: ExecutionBackend;
  /** The backend of runs on clusters, loaded when a run first needs it. */
  readonly cluster: ClusterAccess;
}

/** A run on this machine: the process takes input after it starts, and a session outlives a turn. */
function localTarget(backend: ExecutionBackend): RunTarget {
  return { place: { backend: 'local', kubernetes: null }, multiTurn: true, start: (job) => backend.start(job) };
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

/** An agent that said, when last probed, that it can neither load nor resume a session is not asked to: refused before anything starts. */
function refuseUnresumable(resolved: ResolvedRuntime, home: string): void {
  if (!resolved.host.probe) return;
  const said = readProbe(home, resolved.runtime.name)?.advertised;
  if (!said || said.load_session || said.resume_session) return;
  throw new FractaError(
    'capability_missing',
    `runtime "${resolved.runtime.name}" (${said.agent ?? 'an ACP agent'}) advertises neither loading nor resuming a session (as last probed), so it cannot continue one: start a new run instead`,
    'resume_run',
  );
}

export async function planSpawn(request: SpawnRequest, context: PlanContext): Promise<SpawnPlan> {
  const { config } = context;
  const resolved = RuntimeRegistry.fromConfig(config).resolve(request.runtime);
  const { runtime, host } = resolved;
  const warnings = checkCapabilities(request, resolved);
  const runId = newRunId();
  // What a run on a cluster cannot do is said before anything else is looked up.
  const cluster = chooseBackend(request, runtime) === 'kubernetes' ? await planKubernetes(request, runtime, runId, context.cluster) : undefined;
  const resume = await context.findResume(resolved);
  if (resume) refuseUnresumable(resolved, context.home);

  checkChain(context);

  const choice = resolveModel(runtime, request.model, request.tier);
  if (choice.warning) warnings.push(choice.warning);
  const approvals = approvalPolicy(config, runtime.name);
  const budget = planBudget(config, runtime, request.budget, choice.model, host, resume?.usage);
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
  const bootstrap = bootstrapTask(request.task, request.contract);
  // What the child needs to know to spawn grandchildren in the same chain and state folder.
  const lineageEnv = chainEnv(runId, lineage.rootRun, lineage.depth);
  // On a cluster the command is built for the pod (its workspace, no local environment).
  const env: Record<string, string> = cluster ? lineageEnv : { ...childEnv.env, [FRACTA_ENV.HOME]: context.home, ...lineageEnv };
  const fractaServer = request.agent_mcp ? fractaServerFor(runId, lineage, context.home, config.source) : undefined;
  const input: CommandInput = {
    prompt: bootstrap.initialPrompt,
    model: choice.model,
    resumeToken: resume?.token,
    workdir: cluster?.workdir ?? workdir,
    allowedTools: request.allowed_tools,
    agentMcp: request.agent_mcp === true,
    fractaServer,
    env,
    // A spawn or wait of the child's blocks as long as its client's ceiling; a question, the approvals timeout.
    toolWaitS: Math.max(approvals.timeoutS, waitCeiling(host.mcpClientName, config.waitCeilings).seconds),
  };
  const command = request.stream ? host.buildStreamCommand(input) : host.buildBatchCommand(input);
  warnings.push(...(command.warnings ?? []));
  const childProcessEnv = { ...env, ...command.env };
  const timeoutS = request.timeout_s ?? runtime.timeoutS ?? config.timeoutS;
  const target = cluster ? cluster.target({ command, prompt: input.prompt, lineageEnv, childEnv, timeoutS }) : localTarget(context.local);
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
    fractaServer,
    childEnv: { ...childEnv, env: childProcessEnv },
    timeoutS,
    killGraceMs: config.killGraceS * 1000,
    cleanup: request.cleanup ?? runtime.cleanup ?? config.cleanup,
    sessionIdleMs: config.sessionIdleS * 1000,
    idleTimeoutMs: (runtime.idleTimeoutS ?? config.idleTimeoutS ?? 0) * 1000 || undefined,
    maxRuntimeConcurrent: runtime.maxConcurrent ?? config.maxRuntimeConcurrent,
    maxConcurrent: config.maxConcurrent,
    maxChildren: config.maxChildren,
    warnings,
    target,
    budget,
    approvals,
  };
}
