/**
 * A run as Kubernetes objects: a Secret that carries the prompt and the host's workspace files, and a
 * Job whose pod copies those files into its workspace and runs the host's command with the prompt on
 * stdin. Pure: no client, no cluster. Everything the API server would refuse is refused here first,
 * with the fracta field that holds it, because the client drops what it does not know without a word.
 */
import type {
  V1Container,
  V1EnvVar,
  V1Job,
  V1KeyToPath,
  V1PodSecurityContext,
  V1ResourceRequirements,
  V1Secret,
  V1SecurityContext,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { FractaError } from '../../errors.js';
import type { Job } from '../backend.js';
import { isDnsLabel, isDnsSubdomain } from '../../config/dns-names.js';
import { inputSecretName, isLabelKey, isLabelValue, jobName, labelValue } from './names.js';
import { HOME_LABEL, MANAGED_BY, MANAGED_BY_LABEL, POD_WORKDIR, RUN_ID_LABEL, RUNTIME_LABEL, type ManifestInput } from './types.js';


/** What the API server accepts in one Secret: the sum of its values. */
export const SECRET_MAX_BYTES = 1024 * 1024;
export const DEFAULT_TTL_SECONDS = 3600;

/** The agent's HOME: an emptyDir, since the root file system is read-only. */
export const POD_HOME = '/home/agent';
/** Where the run's Secret is mounted: `prompt`, and `files/<path>` for each workspace file. */
export const INPUT_DIR = '/fracta/input';
/** The user the pod runs as; the agent images are built with this user (docs/kubernetes.md). */
export const POD_UID = 1000;

const PROMPT_KEY = 'prompt';
export const AGENT_CONTAINER = 'agent';
const CLONE_CONTAINER = 'clone';

/**
 * The agent container's entrypoint, run as `sh -c RUN_SCRIPT fracta-run <command> <args...>`.
 *
 * A pod has no stdin a client could pipe the prompt into, and the prompt must not sit in argv or env
 * (both are readable by anyone who may read the Job, and argv has a size limit), so the prompt is a
 * file of the run's Secret and this script redirects it to the command's stdin. The script is a
 * constant: the command and its arguments arrive as positional parameters, never spliced into shell
 * text, so no user data is ever parsed by the shell.
 *
 * The files are written with `cat` rather than `cp -R`: a copy would keep the Secret's read-only mode,
 * and an agent may rewrite its own settings. Over a cloned repository, an existing file keeps its mode.
 *
 * /workspace is an emptyDir, which root owns (fsGroup only sets its group), and git since 2.35.2
 * refuses to work in a repository whose top directory another user owns; HOME is writable, so the
 * exception goes into the agent's global git config when the image has git.
 */
export const RUN_SCRIPT = [
  'set -eu',
  `if [ -d ${INPUT_DIR}/files ]; then`,
  `  (cd ${INPUT_DIR}/files && find . -type f | while IFS= read -r f; do mkdir -p "${POD_WORKDIR}/\${f%/*}"; cat "$f" > "${POD_WORKDIR}/$f"; done)`,
  'fi',
  `if command -v git >/dev/null 2>&1; then git config --global --add safe.directory ${POD_WORKDIR}; fi`,
  `if [ -f ${INPUT_DIR}/${PROMPT_KEY} ]; then exec "$@" < ${INPUT_DIR}/${PROMPT_KEY}; fi`,
  'exec "$@" < /dev/null',
].join('\n');

/**
 * The clone init container's entrypoint, run as `sh -c CLONE_SCRIPT fracta-clone <url> <base> <branch>`:
 * the repository at the base branch into the workspace, then the run's branch from there. `-B` because
 * a run may work on the base branch itself; right after a clone it only names HEAD.
 */
export const CLONE_SCRIPT = [
  'set -eu',
  `git config --global --add safe.directory ${POD_WORKDIR}`,
  `git clone --branch "$2" --single-branch -- "$1" ${POD_WORKDIR}`,
  `git -C ${POD_WORKDIR} checkout -B "$3"`,
].join('\n');

export interface Manifests {
  readonly secret: V1Secret;
  readonly job: V1Job;
}

/**
 * The Secret and the Job of one run. The Secret's ownerReference to the Job is left to the client,
 * since the Job's uid exists only once the Job does.
 *
 * Env of the agent, later layers winning: the runtime's `kubernetes.env`, then fracta's own variables
 * (`run.fractaEnv`), then HOME. `job.env` (the local environment, with local secrets) is never used.
 */
export function buildManifests(job: Job, run: ManifestInput): Manifests {
  if (job.keepStdinOpen) {
    throw new FractaError(
      'invalid_input',
      'a live session (input written while the run works) cannot run on the kubernetes backend: its pod has no stdin to write to; use backend: local for it',
      'backend',
    );
  }
  const config = checkedConfig(run);
  const name = jobName(job.runId);
  if (!isLabelValue(job.runId)) {
    throw new FractaError('invalid_input', `run id "${job.runId}" is not a valid label value; use a run id fracta generated`, 'run_id');
  }
  const labels = {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [RUN_ID_LABEL]: job.runId,
    [RUNTIME_LABEL]: labelValue(run.runtime),
    ...(run.home ? { [HOME_LABEL]: run.home } : {}),
  };
  const input = inputFor(job.stdin, run.files, run.runtime);
  const secretName = inputSecretName(job.runId);

  const secret: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretName, namespace: config.namespace, labels: { ...labels } },
    type: 'Opaque',
    // Never changed after creation (the ownerReference is metadata, which stays writable); the kubelet
    // then need not watch it.
    immutable: true,
    stringData: input.data,
  };

  const mounts: V1VolumeMount[] = [
    { name: 'workspace', mountPath: POD_WORKDIR },
    { name: 'home', mountPath: POD_HOME },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const containerSecurity: V1SecurityContext = {
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  };
  const env = podEnv(config, run.fractaEnv, run.runtime);

  const agent: V1Container = {
    name: AGENT_CONTAINER,
    image: config.image,
    command: ['/bin/sh', '-c', RUN_SCRIPT, 'fracta-run', job.command, ...job.args],
    workingDir: POD_WORKDIR,
    env,
    ...(config.resources ? { resources: structuredClone(config.resources) } : {}),
    securityContext: containerSecurity,
    volumeMounts: [...mounts, { name: 'input', mountPath: INPUT_DIR, readOnly: true }],
  };

  const initContainers: V1Container[] = [];
  if (run.git) {
    checkGit(run.git);
    initContainers.push({
      name: CLONE_CONTAINER,
      image: config.image,
      command: ['/bin/sh', '-c', CLONE_SCRIPT, 'fracta-clone', run.git.url, run.git.baseBranch, run.git.branch],
      workingDir: POD_WORKDIR,
      // The runtime's env (credentials for a private repository, say) without fracta's run variables.
      env: podEnv(config, {}, run.runtime),
      // The same resources: a namespace with a quota wants them on every container, and an init
      // container's are not added to the agent's.
      ...(config.resources ? { resources: structuredClone(config.resources) } : {}),
      securityContext: { ...containerSecurity, capabilities: { drop: ['ALL'] } },
      volumeMounts: mounts.map((mount) => ({ ...mount })),
    });
  }

  const podSecurity: V1PodSecurityContext = {
    runAsNonRoot: true,
    runAsUser: POD_UID,
    runAsGroup: POD_UID,
    // Makes the emptyDirs writable and the Secret's files readable for the pod's group.
    fsGroup: POD_UID,
    seccompProfile: { type: 'RuntimeDefault' },
  };
  const volumes: V1Volume[] = [
    { name: 'workspace', emptyDir: {} },
    { name: 'home', emptyDir: {} },
    { name: 'tmp', emptyDir: {} },
    {
      name: 'input',
      secret: {
        secretName,
        // Read by the pod's group (fsGroup) only.
        defaultMode: 0o440,
        ...(input.items.length > 0 ? { items: input.items } : {}),
      },
    },
  ];

  const manifest: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: config.namespace, labels: { ...labels } },
    spec: {
      // A failed agent run is a result, not something to retry.
      backoffLimit: 0,
      activeDeadlineSeconds: deadlineSeconds(run.timeoutS),
      ttlSecondsAfterFinished: config.ttl_seconds_after_finished ?? DEFAULT_TTL_SECONDS,
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          restartPolicy: 'Never',
          ...(config.service_account
            ? { serviceAccountName: config.service_account }
            : // The agent has no business with the Kubernetes API unless a service account says so.
              { automountServiceAccountToken: false }),
          ...(config.node_selector ? { nodeSelector: { ...config.node_selector } } : {}),
          ...(config.tolerations ? { tolerations: config.tolerations } : {}),
          terminationGracePeriodSeconds: Math.ceil(job.killGraceMs / 1000),
          securityContext: podSecurity,
          ...(initContainers.length > 0 ? { initContainers } : {}),
          containers: [agent],
          volumes,
        },
      },
    },
  };
  return { secret, job: manifest };
}

/** The runtime's `kubernetes:` block, checked and with resources and tolerations in their API shape. */
interface CheckedConfig {
  readonly namespace: string;
  readonly image: string;
  readonly service_account?: string;
  readonly resources?: V1ResourceRequirements;
  readonly node_selector?: Readonly<Record<string, string>>;
  readonly tolerations?: V1Toleration[];
  readonly ttl_seconds_after_finished?: number;
  readonly env: ManifestInput['config']['env'];
}

function configField(runtime: string, path: string): string {
  return `agents.agent_runtimes.${runtime}.kubernetes.${path}`;
}

function invalidConfig(runtime: string, path: string, problem: string): FractaError {
  const field = configField(runtime, path);
  return new FractaError('k8s_invalid', `${field}: ${problem}; fix it in fracta.yaml`, field);
}

function checkedConfig(run: ManifestInput): CheckedConfig {
  const { config, runtime } = run;
  if (!isDnsLabel(config.namespace)) {
    throw invalidConfig(
      runtime,
      'namespace',
      `"${config.namespace}" is not a namespace name (at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit)`,
    );
  }
  if (config.image.trim() === '' || /[\s\x00-\x1f\x7f]/.test(config.image)) {
    throw invalidConfig(runtime, 'image', `"${config.image}" is not an image reference (give one such as registry.example.com/agents/claude:1.0, with no spaces)`);
  }
  if (config.service_account !== undefined && !isDnsSubdomain(config.service_account)) {
    throw invalidConfig(runtime, 'service_account', `"${config.service_account}" is not a ServiceAccount name (lowercase letters, digits, "-" and ".")`);
  }
  for (const [key, value] of Object.entries(config.node_selector ?? {})) {
    if (!isLabelKey(key)) throw invalidConfig(runtime, `node_selector.${key}`, `"${key}" is not a label key`);
    if (!isLabelValue(value)) {
      throw invalidConfig(runtime, `node_selector.${key}`, `"${value}" is not a label value (at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit)`);
    }
  }
  const ttl = config.ttl_seconds_after_finished;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 0)) {
    throw invalidConfig(runtime, 'ttl_seconds_after_finished', `${ttl} is not a whole number of seconds of 0 or more`);
  }
  return {
    namespace: config.namespace,
    image: config.image,
    ...(config.service_account !== undefined ? { service_account: config.service_account } : {}),
    ...(config.resources !== undefined ? { resources: checkedResources(config.resources, runtime) } : {}),
    ...(config.node_selector !== undefined ? { node_selector: config.node_selector } : {}),
    ...(config.tolerations !== undefined ? { tolerations: config.tolerations.map((entry, index) => checkedToleration(entry, index, runtime)) } : {}),
    ...(ttl !== undefined ? { ttl_seconds_after_finished: ttl } : {}),
    env: config.env,
  };
}

/** A Kubernetes quantity: 500m, 1.5, 2Gi, 1e3. */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;
const RESOURCE_KEYS = ['limits', 'requests', 'claims'] as const;

function checkedResources(raw: Readonly<Record<string, unknown>>, runtime: string): V1ResourceRequirements {
  const result: V1ResourceRequirements = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'limits' || key === 'requests') {
      result[key] = quantities(value, `resources.${key}`, runtime);
    } else if (key === 'claims') {
      if (!Array.isArray(value) || !value.every((claim) => isPlainObject(claim) && typeof claim['name'] === 'string')) {
        throw invalidConfig(runtime, 'resources.claims', 'must be a list of {name, request?}');
      }
      result.claims = value as V1ResourceRequirements['claims'];
    } else {
      throw invalidConfig(runtime, `resources.${key}`, `unknown key (use ${RESOURCE_KEYS.join(', ')})`);
    }
  }
  return result;
}

function quantities(value: unknown, path: string, runtime: string): Record<string, string> {
  if (!isPlainObject(value)) throw invalidConfig(runtime, path, 'must be a map of resource names to quantities, such as {cpu: 500m, memory: 1Gi}');
  const result: Record<string, string> = {};
  for (const [resource, quantity] of Object.entries(value)) {
    // YAML reads `cpu: 2` as a number; the API takes a quantity as a string.
    const text = typeof quantity === 'number' ? String(quantity) : quantity;
    if (!isLabelKey(resource)) throw invalidConfig(runtime, `${path}.${resource}`, `"${resource}" is not a resource name`);
    if (typeof text !== 'string' || !QUANTITY.test(text)) {
      throw invalidConfig(runtime, `${path}.${resource}`, `${JSON.stringify(quantity)} is not a quantity (such as 500m, 2, 512Mi, 1Gi)`);
    }
    result[resource] = text;
  }
  return result;
}

const TOLERATION_KEYS = ['key', 'operator', 'value', 'effect', 'tolerationSeconds'] as const;
const OPERATORS = ['Exists', 'Equal'];
const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

function checkedToleration(raw: Readonly<Record<string, unknown>>, index: number, runtime: string): V1Toleration {
  const path = `tolerations[${index}]`;
  for (const key of Object.keys(raw)) {
    if (!(TOLERATION_KEYS as readonly string[]).includes(key)) {
      throw invalidConfig(runtime, `${path}.${key}`, `unknown key (use ${TOLERATION_KEYS.join(', ')})`);
    }
  }
  const { key, operator, value, effect, tolerationSeconds } = raw;
  for (const [name, field] of [['key', key], ['value', value]] as const) {
    if (field !== undefined && typeof field !== 'string') throw invalidConfig(runtime, `${path}.${name}`, 'must be a string');
  }
  if (operator !== undefined && !OPERATORS.includes(operator as string)) {
    throw invalidConfig(runtime, `${path}.operator`, `${JSON.stringify(operator)} is not an operator (use ${OPERATORS.join(', ')})`);
  }
  if (effect !== undefined && !EFFECTS.includes(effect as string)) {
    throw invalidConfig(runtime, `${path}.effect`, `${JSON.stringify(effect)} is not an effect (use ${EFFECTS.join(', ')})`);
  }
  if (operator === 'Exists' && value !== undefined && value !== '') {
    throw invalidConfig(runtime, `${path}.value`, 'must be empty when operator is Exists');
  }
  if (tolerationSeconds !== undefined) {
    if (!Number.isInteger(tolerationSeconds)) throw invalidConfig(runtime, `${path}.tolerationSeconds`, 'must be a whole number of seconds');
    if (effect !== 'NoExecute') throw invalidConfig(runtime, `${path}.tolerationSeconds`, 'needs effect: NoExecute');
  }
  return { ...raw } as V1Toleration;
}

/** The names a container's env accepts on every supported Kubernetes version. */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

function podEnv(config: CheckedConfig, fractaEnv: Readonly<Record<string, string>>, runtime: string): V1EnvVar[] {
  // A Map keeps the first position of a name; delete-then-set moves an overridden one to its layer.
  const env = new Map<string, V1EnvVar>();
  config.env.forEach((entry, index) => {
    const path = `env[${index}]`;
    if (!ENV_NAME.test(entry.name)) throw invalidConfig(runtime, `${path}.name`, `"${entry.name}" is not an environment variable name`);
    if (env.has(entry.name)) throw invalidConfig(runtime, `${path}.name`, `${entry.name} is listed twice; keep one entry`);
    if ((entry.value === undefined) === (entry.secret_ref === undefined)) {
      throw invalidConfig(runtime, path, `${entry.name}: give exactly one of value or secret_ref`);
    }
    if (entry.secret_ref) {
      const { name, key } = entry.secret_ref;
      if (!isDnsSubdomain(name)) throw invalidConfig(runtime, `${path}.secret_ref.name`, `"${name}" is not a Secret name`);
      if (!SECRET_KEY.test(key) || key.length > 253) throw invalidConfig(runtime, `${path}.secret_ref.key`, `"${key}" is not a Secret key (letters, digits, "-", "_" and ".")`);
      env.set(entry.name, { name: entry.name, valueFrom: { secretKeyRef: { name, key } } });
    } else {
      env.set(entry.name, { name: entry.name, value: entry.value });
    }
  });
  for (const [name, value] of Object.entries(fractaEnv)) {
    if (!ENV_NAME.test(name)) throw new FractaError('invalid_input', `fracta's variable "${name}" is not a valid environment variable name for a pod`, 'env');
    env.delete(name);
    env.set(name, { name, value });
  }
  env.delete('HOME');
  env.set('HOME', { name: 'HOME', value: POD_HOME });
  return [...env.values()];
}

function deadlineSeconds(timeoutS: number): number {
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    throw new FractaError('invalid_input', `timeout_s: ${timeoutS} is not a usable deadline for a Job; give a number of seconds above 0`, 'timeout_s');
  }
  return Math.ceil(timeoutS);
}

interface Input {
  readonly data: Record<string, string>;
  readonly items: V1KeyToPath[];
}

/** The Secret's data and where each key lands in the input volume. */
function inputFor(prompt: string | undefined, files: ManifestInput['files'], runtime: string): Input {
  const data: Record<string, string> = {};
  const items: V1KeyToPath[] = [];
  if (prompt !== undefined) {
    data[PROMPT_KEY] = prompt;
    items.push({ key: PROMPT_KEY, path: PROMPT_KEY });
  }
  const paths = new Set<string>();
  files.forEach((file, index) => {
    checkFilePath(file.path, paths);
    paths.add(file.path);
    // Paths hold characters a Secret key refuses (`/`), so keys are positions and items place them.
    const key = `file-${index}`;
    data[key] = file.content;
    items.push({ key, path: `files/${file.path}` });
  });
  checkSize(prompt, files, runtime);
  return { data, items };
}

function checkFilePath(filePath: string, seen: ReadonlySet<string>): void {
  const refuse = (problem: string) =>
    new FractaError('invalid_input', `workspace file "${filePath}" cannot reach the pod: ${problem}; give a relative path inside the workspace`, 'files');
  if (filePath === '' || filePath.startsWith('/')) throw refuse('it is empty or absolute');
  if (/[\x00-\x1f\x7f]/.test(filePath)) throw refuse('it holds a control character');
  if (filePath.split('/').some((part) => part === '' || part === '.' || part === '..')) throw refuse('it holds an empty, "." or ".." part');
  if (seen.has(filePath)) throw refuse('it is listed twice');
  for (const other of seen) {
    if (other.startsWith(`${filePath}/`) || filePath.startsWith(`${other}/`)) throw refuse(`it and "${other}" would be both a file and a folder`);
  }
}

function checkSize(prompt: string | undefined, files: ManifestInput['files'], runtime: string): void {
  const promptBytes = prompt === undefined ? 0 : Buffer.byteLength(prompt, 'utf8');
  const sized = files.map((file) => ({ path: file.path, bytes: Buffer.byteLength(file.content, 'utf8') }));
  const fileBytes = sized.reduce((sum, file) => sum + file.bytes, 0);
  const total = promptBytes + fileBytes;
  if (total <= SECRET_MAX_BYTES) return;
  const limit = `a run on Kubernetes carries the prompt and the workspace files in one Secret, which holds at most ${SECRET_MAX_BYTES} bytes (1 MiB)`;
  if (promptBytes >= fileBytes) {
    throw new FractaError(
      'prompt_too_long',
      `the prompt is ${promptBytes} bytes (with ${fileBytes} bytes of workspace files, ${total} in all) and ${limit}; shorten the prompt, or run runtime "${runtime}" with backend: local`,
      'task',
    );
  }
  const largest = [...sized].sort((a, b) => b.bytes - a.bytes).slice(0, 3).map((file) => `${file.path} (${file.bytes} bytes)`);
  throw new FractaError(
    'k8s_invalid',
    `the workspace files are ${fileBytes} bytes (with a ${promptBytes}-byte prompt, ${total} in all) and ${limit}; the largest: ${largest.join(', ')}; make them smaller or run runtime "${runtime}" with backend: local`,
    'files',
  );
}

/** scp-like git addresses: `git@github.com:org/repo.git`. */
const SCP_URL = /^[A-Za-z0-9._~-]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[^\s:][^\s]*$/;

function checkGit(git: NonNullable<ManifestInput['git']>): void {
  checkRepoUrl(git.url);
  checkBranch(git.baseBranch, 'base_branch');
  checkBranch(git.branch, 'branch');
}

function checkRepoUrl(url: string): void {
  const refuse = (problem: string) =>
    new FractaError('invalid_input', `repo: "${url}" cannot be cloned on Kubernetes: ${problem}`, 'repo');
  if (url.startsWith('-')) throw refuse('it starts with "-"');
  if (/[\s\x00-\x1f\x7f]/.test(url)) throw refuse('it holds white space or a control character');
  if (SCP_URL.test(url)) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse('give an https://, ssh:// or git@host:path address');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'ssh:') {
    throw refuse(`${parsed.protocol} addresses are not cloned (give an https://, ssh:// or git@host:path address)`);
  }
  if (parsed.hostname === '' || parsed.hostname.startsWith('-')) throw refuse('it names no usable host');
  // The URL ends up in the Job's args, which anyone who may read Jobs can see.
  if (parsed.password !== '' || (parsed.protocol === 'https:' && parsed.username !== '')) {
    throw refuse('it carries credentials; drop them from the address and give the clone its credentials through a secret_ref in the runtime\'s kubernetes.env');
  }
}

/** The rules of `git check-ref-format --branch`, plus no leading `-` (it would read as an option). */
function checkBranch(name: string, field: 'base_branch' | 'branch'): void {
  const problem =
    name === '' ? 'it is empty'
    : name.startsWith('-') ? 'it starts with "-"'
    : /\s/.test(name) ? 'it holds white space'
    : name.includes('..') ? 'it holds ".."'
    : name.includes('@{') || name === '@' ? 'it holds "@{" or is "@"'
    : /[~^:?*[\\\x00-\x1f\x7f]/.test(name) ? 'it holds a character git does not allow in a branch (~ ^ : ? * [ \\ or a control character)'
    : name.startsWith('/') || name.endsWith('/') || name.includes('//') ? 'it has an empty part between "/"'
    : name.endsWith('.') || name.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock')) ? 'a part starts with "." or ends with "." or ".lock"'
    : undefined;
  if (problem) throw new FractaError('invalid_input', `${field}: "${name}" is not a usable branch name: ${problem}`, field);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
