/**
 * The part of planning that is particular to the kubernetes backend: what a run on a cluster cannot
 * do (and says so before anything exists), the repository it clones, and the plain variables the pod
 * gets. The local environment, with its secrets, never goes into a manifest: a pod's credentials come
 * from the runtime's `kubernetes.env` (secret_ref), which the cluster resolves.
 */
import os from 'node:os';
import type { ChildEnv } from '../config/env.js';
import { MIN_SECRET_LENGTH } from '../secrets.js';
import type { RuntimeConfig } from '../config/runtime.js';
import type { BackendName } from '../vocabulary.js';
import type { RunTarget } from '../executor/backend.js';
import type { KubernetesBackend } from '../executor/kubernetes/backend.js';
import { jobName } from '../executor/kubernetes/names.js';
import { POD_WORKDIR, type KubernetesRun } from '../executor/kubernetes/types.js';
import { FractaError } from '../errors.js';
import { FRACTA_ENV } from '../names.js';
import { isStreamSpec, type CommandSpec, type StreamSpec } from '../host/host.js';
import type { SpawnRequest } from '../requests.js';
import { branchFor, checkBranchName } from '../workspace/branch.js';

/** What planning needs of the cluster backend, without loading it. */
export interface ClusterAccess {
  /** The backend, loaded on a run's first start on a cluster. */
  backend(): Promise<KubernetesBackend>;
  /** The HOME_LABEL value of this fracta install. */
  readonly home: string;
}

/** What the built command is checked against and bound with, once it is built. */
interface Built {
  readonly command: CommandSpec | StreamSpec;
  readonly prompt: string;
  /** The FRACTA_* chain the child inherits. */
  readonly lineageEnv: Record<string, string>;
  readonly childEnv: ChildEnv;
  readonly timeoutS: number;
}

/** A spawn on a cluster, checked: the workspace its command is built for, and how to bind its target. */
export interface ClusterPlan {
  /** The pod's workspace: the host's command is built for it, not for the local staging folder. */
  readonly workdir: string;
  /** Checks the built command for what a pod cannot do, and binds the run's settings into its target. */
  target(built: Built): RunTarget;
}

export function chooseBackend(request: SpawnRequest, runtime: RuntimeConfig): BackendName {
  return request.backend ?? runtime.backend ?? 'local';
}

/** https://, ssh://, git:// or scp-like git@host:path; never something git could read as an option. */
export function isRepositoryUrl(value: string): boolean {
  return /^(https?|ssh|git):\/\/[^\s]+$/.test(value) || /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s-][^\s]*$/.test(value);
}

/** What a spawn on kubernetes may not ask for, refused with the field and what to do instead. */
function refuse(field: string, why: string): never {
  throw new FractaError('invalid_input', `${field}: ${why}`, field);
}

/** Checks a spawn for the kubernetes backend before any side effect; returns what the run needs. */
export async function planKubernetes(request: SpawnRequest, runtime: RuntimeConfig, runId: string, access: ClusterAccess): Promise<ClusterPlan> {
  const { config, git } = await checkSpawn(request, runtime, runId);
  return {
    workdir: POD_WORKDIR,
    target: ({ command, prompt, lineageEnv, childEnv, timeoutS }) => {
      checkStreamOnCluster(runtime, command);
      checkPromptNotInArgs(runtime, prompt, command.args);
      const run: KubernetesRun = { config, runtime: runtime.name, timeoutS, fractaEnv: podEnv(runId, lineageEnv, command, childEnv), home: access.home, ...(git ? { git } : {}) };
      return {
        place: { backend: 'kubernetes', kubernetes: { namespace: config.namespace, job: jobName(runId), context: config.context ?? null } },
        multiTurn: false,
        ...(git ? { clone: git } : {}),
        start: async (job) => (await access.backend()).start(job, run),
      };
    },
  };
}

async function checkSpawn(request: SpawnRequest, runtime: RuntimeConfig, runId: string): Promise<Pick<KubernetesRun, 'config' | 'git'>> {
  const config = runtime.kubernetes;
  if (!config?.namespace || !config.image) {
    throw new FractaError(
      'config_invalid',
      `runtime "${runtime.name}" has no kubernetes: block with namespace and image, so it cannot run on the kubernetes backend: add one in fracta.yaml (see docs/kubernetes.md), or spawn with backend: local`,
      'backend',
    );
  }
  const cluster = { ...config, namespace: config.namespace, image: config.image };
  if (request.agent_mcp) refuse('agent_mcp', 'a pod cannot reach the fracta that spawned it; spawn without agent_mcp, or with backend: local');
  if (request.resume_run !== undefined || request.resume_token !== undefined) {
    refuse(request.resume_run !== undefined ? 'resume_run' : 'resume_token', "a session lives in its pod's home, which is gone when the pod ends; resume it with backend: local, or start a new run");
  }
  if (request.workspace !== undefined) refuse('workspace', 'a pod always works in a fresh clone of repo; leave workspace out');
  if (request.repo === undefined) {
    if (request.base_branch !== undefined || request.branch !== undefined) refuse(request.branch !== undefined ? 'branch' : 'base_branch', 'needs repo (a git URL the pod clones)');
    return { config: cluster };
  }
  if (!isRepositoryUrl(request.repo)) {
    refuse('repo', `"${request.repo}" is not a repository URL; a pod cannot see this machine's folders, so give a URL it can clone (https://, ssh:// or git@host:path), or spawn with backend: local`);
  }
  if (/^https?:\/\/[^/]*@/.test(request.repo)) refuse('repo', 'holds credentials; give the URL without them and the token through kubernetes.env (secret_ref)');
  if (request.base_branch === undefined) refuse('base_branch', 'is required with a repository URL: the branch (or tag) the pod clones');
  const branch = request.branch ?? branchFor(request.task, runId);
  for (const [field, name] of [['base_branch', request.base_branch], ['branch', branch]] as const) {
    await checkBranchName(name, os.tmpdir()).catch((error: FractaError) => {
      throw new FractaError('invalid_input', error.message.replace(/^branch:/, `${field}:`), field);
    });
  }
  return { config: cluster, git: { url: request.repo, baseBranch: request.base_branch, branch } };
}

/**
 * The pod's plain variables: the chain and what the host's command asks for. A value that holds one
 * of the run's secrets is refused rather than written into a manifest anyone with read access to Jobs
 * can see.
 */
function podEnv(runId: string, lineageEnv: Record<string, string>, command: CommandSpec | StreamSpec, childEnv: ChildEnv): Record<string, string> {
  const env: Record<string, string> = { ...lineageEnv, ...command.env, [FRACTA_ENV.RUN_ID]: runId };
  for (const [name, value] of Object.entries(env)) {
    if (childEnv.secrets.some((secret) => secret.length >= MIN_SECRET_LENGTH && value.includes(secret))) {
      throw new FractaError(
        'invalid_input',
        `${name} would carry a secret into the Job manifest on the kubernetes backend; give the pod its credentials through kubernetes.env with secret_ref instead`,
        'backend',
      );
    }
  }
  return env;
}

/**
 * `stream: true` on a cluster: the pod's log goes through the host's stream parser as it arrives
 * (events, progress, the turn's result), for one turn. A runtime whose sessions take follow-up
 * messages on the agent's stdin cannot run so: a pod has no stdin to write to.
 */
function checkStreamOnCluster(runtime: RuntimeConfig, command: CommandSpec | StreamSpec): void {
  if (isStreamSpec(command) && command.encodeMessage !== undefined) {
    refuse('stream', `runtime "${runtime.name}" keeps a live session on the agent's stdin, which a pod does not offer here; spawn without stream, or with backend: local`);
  }
}

/** The prompt goes to the pod through its input Secret; a runtime that puts it in argv would write it into the Job. */
function checkPromptNotInArgs(runtime: RuntimeConfig, prompt: string, args: readonly string[]): void {
  if (prompt.length > 0 && args.some((arg) => arg.includes(prompt))) {
    throw new FractaError(
      'invalid_input',
      `runtime "${runtime.name}" passes the prompt as an argument, which would put it in the Job manifest; set prompt_via: stdin for it, or spawn with backend: local`,
      'backend',
    );
  }
}
