import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1Container, V1EnvVar, V1Job } from '@kubernetes/client-node';
// What BatchV1Api and CoreV1Api serialize a request body with; the package index does not export it.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { Job as JobModel } from 'kubernetes-models/batch/v1/Job';
import { Secret as SecretModel } from 'kubernetes-models/v1/Secret';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../src/executor/backend.js';
import {
  buildManifests,
  CLONE_SCRIPT,
  INPUT_DIR,
  POD_HOME,
  RUN_SCRIPT,
  SECRET_MAX_BYTES,
} from '../src/executor/kubernetes/manifest.js';
import { jobName, labelValue } from '../src/executor/kubernetes/names.js';
import { MANAGED_BY_LABEL, POD_WORKDIR, RUN_ID_LABEL, RUNTIME_LABEL, type ManifestInput } from '../src/executor/kubernetes/types.js';
import { thrown } from './helpers/thrown.js';

const RUN_ID = '20261124-034105-123-ab12f';
const PROMPT = 'Fix the login bug. PROMPT-MARKER-7f3a';
/** A local secret in the host's environment: it must never reach a manifest. */
const LOCAL_SECRET = 'sk-ant-LOCAL-SECRET-0123456789';

function localJob(overrides: Partial<Job> = {}): Job {
  return {
    runId: RUN_ID,
    command: 'claude',
    args: ['-p', '--output-format', 'json', '--model', 'sonnet'],
    cwd: '/home/me/.fracta/workspaces/x',
    env: { ANTHROPIC_API_KEY: LOCAL_SECRET, PATH: '/usr/bin', HOME: '/home/me' },
    stdin: PROMPT,
    stdoutPath: '/home/me/.fracta/runs/x/stdout.log',
    stderrPath: '/home/me/.fracta/runs/x/stderr.log',
    killGraceMs: 5000,
    ...overrides,
  };
}

type RunOverrides = Omit<Partial<ManifestInput>, 'config'> & { config?: Partial<ManifestInput['config']> };

function kubeRun(overrides: RunOverrides = {}): ManifestInput {
  const { config, ...rest } = overrides;
  return {
    runtime: 'claude',
    timeoutS: 1800,
    fractaEnv: { FRACTA_RUN_ID: RUN_ID, FRACTA_DEPTH: '1' },
    files: [
      { path: '.mcp.json', content: '{"mcpServers":{}}\n' },
      { path: '.claude/settings.json', content: '{"permissions":{"allow":["Read"]}}\n' },
      { path: '.fracta/task.md', content: '# Task\nFix the login bug.\n' },
    ],
    git: { url: 'https://github.com/acme/webapp.git', baseBranch: 'main', branch: 'fracta/fix-login-bug-123-ab12f' },
    ...rest,
    config: {
      namespace: 'agents',
      image: 'registry.example.com/agents/claude:2.1.197',
      resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: 2, memory: '4Gi' } },
      node_selector: { 'kubernetes.io/arch': 'amd64' },
      tolerations: [{ key: 'agents', operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
      env: [
        { name: 'ANTHROPIC_API_KEY', secret_ref: { name: 'claude-secret', key: 'api-key' } },
        { name: 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', value: '1' },
      ],
      ...config,
    },
  };
}

function agentOf(job: V1Job): V1Container {
  return job.spec!.template.spec!.containers[0]!;
}

function envOf(job: V1Job): V1EnvVar[] {
  return agentOf(job).env ?? [];
}

describe('jobName', () => {
  it('is fracta- and the run id in lower case, a DNS label of at most 63 characters', () => {
    expect(jobName('20261124-034105-123-AB12F')).toBe('fracta-20261124-034105-123-ab12f');
    expect(jobName(RUN_ID)).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });

  it('refuses a run id that would make an invalid or over-long name instead of rewriting it', () => {
    for (const runId of ['run_1', 'run.1', 'x'.repeat(57), 'run-', '']) {
      const error = thrown(() => jobName(runId));
      expect(error.code).toBe('invalid_input');
      expect(error.message).toContain(`run id "${runId}"`);
    }
    expect(jobName('x'.repeat(56))).toHaveLength(63);
  });
});

describe('the manifests of a representative run', () => {
  it('match the snapshot', () => {
    expect(buildManifests(localJob(), kubeRun())).toMatchSnapshot();
  });

  it('validate as a batch/v1 Job and a v1 Secret with kubernetes-models (types, required fields, enums, quantities)', () => {
    for (const run of [kubeRun(), kubeRun({ git: undefined, files: [] }), kubeRun({ config: { service_account: 'fracta-agent' } })]) {
      const { secret, job } = buildManifests(localJob(), run);
      expect(() => new JobModel(job as ConstructorParameters<typeof JobModel>[0]).validate()).not.toThrow();
      expect(() => new SecretModel(secret as ConstructorParameters<typeof SecretModel>[0]).validate()).not.toThrow();
    }
    const { secret, job } = buildManifests(localJob({ stdin: undefined }), kubeRun());
    expect(() => new JobModel(job as ConstructorParameters<typeof JobModel>[0]).validate()).not.toThrow();
    expect(() => new SecretModel(secret as ConstructorParameters<typeof SecretModel>[0]).validate()).not.toThrow();
  });

  it('survive the client serializer whole (it drops the fields it does not know without a word)', () => {
    const { secret, job } = buildManifests(localJob(), kubeRun());
    const sent = (value: unknown, type: string) => JSON.parse(ObjectSerializer.stringify(ObjectSerializer.serialize(value, type, ''), 'application/json'));
    expect(sent(job, 'V1Job')).toEqual(job);
    expect(sent(secret, 'V1Secret')).toEqual(secret);
  });

  it('name the Job after the run and the Secret after the Job, both in the configured namespace, with no ownerReference yet', () => {
    const { secret, job } = buildManifests(localJob(), kubeRun());
    expect(job.metadata).toMatchObject({ name: `fracta-${RUN_ID}`, namespace: 'agents' });
    expect(secret.metadata).toMatchObject({ name: `fracta-${RUN_ID}-input`, namespace: 'agents' });
    expect(secret.type).toBe('Opaque');
    expect(secret.metadata?.ownerReferences).toBeUndefined();
  });

  it('label the Job, its pod template and the Secret with managed-by, run id and runtime', () => {
    const { secret, job } = buildManifests(localJob(), kubeRun());
    const labels = { [MANAGED_BY_LABEL]: 'fracta', [RUN_ID_LABEL]: RUN_ID, [RUNTIME_LABEL]: 'claude' };
    expect(job.metadata?.labels).toEqual(labels);
    expect(job.spec?.template.metadata?.labels).toEqual(labels);
    expect(secret.metadata?.labels).toEqual(labels);
  });

  it('turn a runtime name a label refuses into a valid label value', () => {
    const { job } = buildManifests(localJob(), kubeRun({ runtime: '-Claude Cheap (v2)!' }));
    expect(job.metadata?.labels?.[RUNTIME_LABEL]).toBe('Claude-Cheap--v2');
    expect(labelValue('a'.repeat(80))).toHaveLength(63);
    expect(labelValue(`${'a'.repeat(62)}-b`)).toBe('a'.repeat(62));
  });
});

describe('what the Job never holds', () => {
  it('holds neither the prompt nor any value of the local environment, in the Job or the Secret', () => {
    const { secret, job } = buildManifests(localJob(), kubeRun());
    const jobText = JSON.stringify(job);
    expect(jobText).not.toContain('PROMPT-MARKER-7f3a');
    expect(jobText).not.toContain(LOCAL_SECRET);
    expect(jobText).not.toContain('/home/me');
    expect(JSON.stringify(secret)).not.toContain(LOCAL_SECRET);
    // The prompt is in the Secret, and only there.
    expect(secret.stringData?.['prompt']).toBe(PROMPT);
  });

  it('takes a secret_ref variable from the named Secret and key, with no value beside it', () => {
    const { job } = buildManifests(localJob(), kubeRun());
    const key = envOf(job).find((entry) => entry.name === 'ANTHROPIC_API_KEY');
    expect(key).toEqual({ name: 'ANTHROPIC_API_KEY', valueFrom: { secretKeyRef: { name: 'claude-secret', key: 'api-key' } } });
    for (const entry of [...envOf(job), ...(job.spec?.template.spec?.initContainers?.[0]?.env ?? [])]) {
      expect(entry.value !== undefined && entry.valueFrom !== undefined, entry.name).toBe(false);
    }
  });
});

describe('the agent container', () => {
  it('runs the host command through the fixed script, the command and each argument a separate argv entry', () => {
    const args = ['--model', 'sonnet; rm -rf /', '$(id)', '"quoted"'];
    const { job } = buildManifests(localJob({ args }), kubeRun());
    expect(agentOf(job).command).toEqual(['/bin/sh', '-c', RUN_SCRIPT, 'fracta-run', 'claude', ...args]);
    expect(agentOf(job).args).toBeUndefined();
    expect(agentOf(job).workingDir).toBe(POD_WORKDIR);
  });

  it('has the env in layers without duplicates: kubernetes.env, then fracta variables, then HOME', () => {
    const run = kubeRun({
      fractaEnv: { FRACTA_RUN_ID: RUN_ID, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '0' },
      config: {
        env: [
          { name: 'ANTHROPIC_API_KEY', secret_ref: { name: 'claude-secret', key: 'api-key' } },
          { name: 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', value: '1' },
          { name: 'HOME', value: '/root' },
        ],
      },
    });
    const env = envOf(buildManifests(localJob(), run).job);
    const names = env.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(['ANTHROPIC_API_KEY', 'FRACTA_RUN_ID', 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', 'HOME']);
    expect(env.find((entry) => entry.name === 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC')?.value).toBe('0');
    expect(env.find((entry) => entry.name === 'HOME')?.value).toBe(POD_HOME);
  });

  it('refuses a variable listed twice in kubernetes.env, naming the entry', () => {
    const error = thrown(() =>
      buildManifests(localJob(), kubeRun({ config: { env: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] } })),
    );
    expect(error.code).toBe('k8s_invalid');
    expect(error.message).toContain('agents.agent_runtimes.claude.kubernetes.env[1].name: A is listed twice');
  });

  it('refuses an env entry with both or neither of value and secret_ref', () => {
    for (const entry of [{ name: 'A' }, { name: 'A', value: 'x', secret_ref: { name: 's', key: 'k' } }]) {
      const error = thrown(() => buildManifests(localJob(), kubeRun({ config: { env: [entry] } })));
      expect(error.code).toBe('k8s_invalid');
      expect(error.message).toContain('give exactly one of value or secret_ref');
    }
  });

  it('runs as user 1000, non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    const { job } = buildManifests(localJob(), kubeRun());
    const pod = job.spec!.template.spec!;
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
      expect(container.securityContext, container.name).toEqual({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    }
  });

  it('writes only to the workspace, home and /tmp emptyDirs, and reads the input Secret from a read-only mount', () => {
    const { job } = buildManifests(localJob(), kubeRun());
    const pod = job.spec!.template.spec!;
    expect(pod.volumes).toEqual([
      { name: 'workspace', emptyDir: {} },
      { name: 'home', emptyDir: {} },
      { name: 'tmp', emptyDir: {} },
      { name: 'input', secret: expect.objectContaining({ secretName: `fracta-${RUN_ID}-input`, defaultMode: 0o440 }) },
    ]);
    expect(agentOf(job).volumeMounts).toEqual([
      { name: 'workspace', mountPath: '/workspace' },
      { name: 'home', mountPath: '/home/agent' },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'input', mountPath: INPUT_DIR, readOnly: true },
    ]);
  });

  it('passes resources through, a YAML number quantity as a string', () => {
    const { job } = buildManifests(localJob(), kubeRun());
    expect(agentOf(job).resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } });
  });

  it('refuses resource and toleration keys the client would silently drop, and quantities the API refuses', () => {
    const cases: Array<[RunOverrides['config'], string]> = [
      [{ resources: { limit: { cpu: '1' } } }, 'kubernetes.resources.limit: unknown key (use limits, requests, claims)'],
      [{ resources: { limits: { cpu: 'lots' } } }, 'kubernetes.resources.limits.cpu: "lots" is not a quantity'],
      [{ tolerations: [{ key: 'a', operater: 'Exists' }] }, 'kubernetes.tolerations[0].operater: unknown key'],
      [{ tolerations: [{ key: 'a', operator: 'Exists', effect: 'NoWay' }] }, 'kubernetes.tolerations[0].effect: "NoWay" is not an effect'],
    ];
    for (const [config, message] of cases) {
      const error = thrown(() => buildManifests(localJob(), kubeRun({ config })));
      expect(error.code).toBe('k8s_invalid');
      expect(error.message).toContain(`agents.agent_runtimes.claude.${message}`);
    }
  });
});

describe('the Job spec', () => {
  it('has the spawn timeout as activeDeadlineSeconds (rounded up to whole seconds), no retries and a TTL', () => {
    const spec = buildManifests(localJob(), kubeRun({ timeoutS: 1800 })).job.spec!;
    expect(spec.activeDeadlineSeconds).toBe(1800);
    expect(spec.backoffLimit).toBe(0);
    expect(spec.ttlSecondsAfterFinished).toBe(3600);
    expect(spec.template.spec?.restartPolicy).toBe('Never');
    expect(buildManifests(localJob(), kubeRun({ timeoutS: 90.2 })).job.spec?.activeDeadlineSeconds).toBe(91);
    expect(buildManifests(localJob(), kubeRun({ config: { ttl_seconds_after_finished: 60 } })).job.spec?.ttlSecondsAfterFinished).toBe(60);
  });

  it('refuses a timeout that is not a positive number', () => {
    for (const timeoutS of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(thrown(() => buildManifests(localJob(), kubeRun({ timeoutS }))).code).toBe('invalid_input');
    }
  });

  it('mounts no service account token unless a service account is configured', () => {
    const without = buildManifests(localJob(), kubeRun()).job.spec!.template.spec!;
    expect(without.automountServiceAccountToken).toBe(false);
    expect(without.serviceAccountName).toBeUndefined();
    const withAccount = buildManifests(localJob(), kubeRun({ config: { service_account: 'fracta-agent' } })).job.spec!.template.spec!;
    expect(withAccount.serviceAccountName).toBe('fracta-agent');
    expect(withAccount.automountServiceAccountToken).toBeUndefined();
  });

  it('refuses a namespace, image or service account the API would refuse, naming the field', () => {
    const cases: Array<[RunOverrides['config'], string]> = [
      [{ namespace: 'Agents' }, 'kubernetes.namespace: "Agents" is not a namespace name'],
      [{ namespace: '' }, 'kubernetes.namespace: "" is not a namespace name'],
      [{ image: '' }, 'kubernetes.image: "" is not an image reference'],
      [{ image: 'claude latest' }, 'kubernetes.image: "claude latest" is not an image reference'],
      [{ service_account: 'Fracta_Agent' }, 'kubernetes.service_account: "Fracta_Agent" is not a ServiceAccount name'],
      [{ node_selector: { pool: 'not a value' } }, 'kubernetes.node_selector.pool: "not a value" is not a label value'],
    ];
    for (const [config, message] of cases) {
      const error = thrown(() => buildManifests(localJob(), kubeRun({ config })));
      expect(error.code).toBe('k8s_invalid');
      expect(error.message).toContain(`agents.agent_runtimes.claude.${message}`);
      expect(error.message).toContain('fix it in fracta.yaml');
    }
  });

  it('refuses a live session, whose stdin a pod cannot keep open', () => {
    const error = thrown(() => buildManifests(localJob({ keepStdinOpen: true }), kubeRun()));
    expect(error.code).toBe('invalid_input');
    expect(error.message).toContain('backend: local');
  });
});

describe('the input Secret', () => {
  it('maps every workspace file to a key and an item at files/<its path>, and the prompt to prompt', () => {
    const run = kubeRun();
    const { secret, job } = buildManifests(localJob(), run);
    const items = job.spec!.template.spec!.volumes!.find((volume) => volume.name === 'input')!.secret!.items!;
    expect(items).toContainEqual({ key: 'prompt', path: 'prompt' });
    for (const file of run.files) {
      const item = items.find((entry) => entry.path === `files/${file.path}`);
      expect(item, file.path).toBeDefined();
      expect(item!.key).toMatch(/^[-._a-zA-Z0-9]+$/);
      expect(secret.stringData?.[item!.key]).toBe(file.content);
    }
    expect(items).toHaveLength(run.files.length + 1);
    expect(Object.keys(secret.stringData ?? {})).toHaveLength(run.files.length + 1);
  });

  it('has no prompt key or item when there is no stdin, and an empty one for an empty stdin', () => {
    const none = buildManifests(localJob({ stdin: undefined }), kubeRun({ files: [] }));
    expect(none.secret.stringData).toEqual({});
    expect(none.job.spec!.template.spec!.volumes!.find((volume) => volume.name === 'input')!.secret!.items).toBeUndefined();
    const empty = buildManifests(localJob({ stdin: '' }), kubeRun({ files: [] }));
    expect(empty.secret.stringData).toEqual({ prompt: '' });
  });

  it(`accepts a prompt of exactly ${SECRET_MAX_BYTES} bytes and refuses one byte more as prompt_too_long, with its size and the limit`, () => {
    expect(() => buildManifests(localJob({ stdin: 'x'.repeat(SECRET_MAX_BYTES) }), kubeRun({ files: [] }))).not.toThrow();
    const error = thrown(() => buildManifests(localJob({ stdin: 'x'.repeat(SECRET_MAX_BYTES + 1) }), kubeRun({ files: [] })));
    expect(error.code).toBe('prompt_too_long');
    expect(error.message).toContain(`the prompt is ${SECRET_MAX_BYTES + 1} bytes`);
    expect(error.message).toContain('at most 1048576 bytes (1 MiB)');
  });

  it('counts the prompt in UTF-8 bytes, not characters', () => {
    const prompt = 'é'.repeat(SECRET_MAX_BYTES / 2 + 1);
    expect(prompt.length).toBeLessThan(SECRET_MAX_BYTES);
    const error = thrown(() => buildManifests(localJob({ stdin: prompt }), kubeRun({ files: [] })));
    expect(error.code).toBe('prompt_too_long');
    expect(error.message).toContain(`the prompt is ${SECRET_MAX_BYTES + 2} bytes`);
  });

  it('refuses workspace files that overflow the Secret as k8s_invalid, naming the largest', () => {
    const files = [
      { path: 'big.bin', content: 'x'.repeat(SECRET_MAX_BYTES) },
      { path: 'small.txt', content: 'y' },
    ];
    const error = thrown(() => buildManifests(localJob(), kubeRun({ files })));
    expect(error.code).toBe('k8s_invalid');
    expect(error.message).toContain('big.bin (1048576 bytes)');
  });

  it('refuses file paths that would escape or collide in the volume', () => {
    for (const files of [
      [{ path: '../outside', content: '' }],
      [{ path: '/etc/passwd', content: '' }],
      [{ path: 'a/./b', content: '' }],
      [{ path: 'line\nbreak', content: '' }],
      [{ path: 'a', content: '' }, { path: 'a', content: '' }],
      [{ path: 'a', content: '' }, { path: 'a/b', content: '' }],
    ]) {
      const error = thrown(() => buildManifests(localJob(), kubeRun({ files })));
      expect(error.code).toBe('invalid_input');
      expect(error.message).toContain('cannot reach the pod');
    }
  });
});

describe('the clone init container', () => {
  it('clones the base branch into the workspace and makes the run branch, the URL and branches as separate argv entries', () => {
    const { job } = buildManifests(localJob(), kubeRun());
    const [clone, ...rest] = job.spec!.template.spec!.initContainers!;
    expect(rest).toEqual([]);
    expect(clone!.name).toBe('clone');
    expect(clone!.image).toBe('registry.example.com/agents/claude:2.1.197');
    expect(clone!.command).toEqual([
      '/bin/sh', '-c', CLONE_SCRIPT, 'fracta-clone',
      'https://github.com/acme/webapp.git', 'main', 'fracta/fix-login-bug-123-ab12f',
    ]);
    expect(clone!.volumeMounts?.map((mount) => mount.mountPath)).toEqual(['/workspace', '/home/agent', '/tmp']);
    // The runtime's credentials, but not the run's own variables nor the prompt.
    expect(clone!.env?.map((entry) => entry.name)).toEqual(['ANTHROPIC_API_KEY', 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', 'HOME']);
  });

  it('is absent when the run names no repository', () => {
    const { job } = buildManifests(localJob(), kubeRun({ git: undefined }));
    expect(job.spec!.template.spec!.initContainers).toBeUndefined();
  });

  it('accepts https://, ssh:// and git@host:path repository addresses', () => {
    for (const url of ['https://github.com/acme/webapp.git', 'ssh://git@github.com/acme/webapp.git', 'git@github.com:acme/webapp.git']) {
      expect(() => buildManifests(localJob(), kubeRun({ git: { url, baseBranch: 'main', branch: 'fracta/x' } })), url).not.toThrow();
    }
  });

  it('refuses hostile or credential-carrying repository addresses', () => {
    for (const url of [
      '-oProxyCommand=touch /tmp/pwned',
      '--upload-pack=touch /tmp/pwned',
      'ext::sh -c touch% /tmp/pwned',
      'file:///etc',
      'http://github.com/acme/webapp.git',
      'ssh://-oProxyCommand=x/acme/webapp.git',
      'git@-oProxyCommand=x:acme/webapp.git',
      'https://x-access-token:ghp_abc@github.com/acme/webapp.git',
      'https://ghp_abc@github.com/acme/webapp.git',
      'https://github.com/acme/web app.git',
      '',
    ]) {
      const error = thrown(() => buildManifests(localJob(), kubeRun({ git: { url, baseBranch: 'main', branch: 'fracta/x' } })));
      expect(error.code, url).toBe('invalid_input');
      expect(error.field, url).toBe('repo');
    }
  });

  it('refuses hostile branch names, base or new', () => {
    for (const name of ['-b', '--upload-pack=evil', 'a..b', 'a b', 'x@{1}', '@', 'a~1', 'a:b', '.hidden', 'x.lock', 'a//b', 'a/', 'a.', 'tab\tname', '']) {
      const asBranch = thrown(() => buildManifests(localJob(), kubeRun({ git: { url: 'https://github.com/a/b.git', baseBranch: 'main', branch: name } })));
      expect(asBranch.code, name).toBe('invalid_input');
      expect(asBranch.field, name).toBe('branch');
      const asBase = thrown(() => buildManifests(localJob(), kubeRun({ git: { url: 'https://github.com/a/b.git', baseBranch: name, branch: 'fracta/x' } })));
      expect(asBase.field, name).toBe('base_branch');
    }
  });
});

/**
 * The scripts themselves, run by this machine's /bin/sh over a folder laid out as the kubelet lays out
 * a Secret volume (`..data` links), with the pod's paths moved into a temporary folder.
 */
describe('the pod scripts under /bin/sh', () => {
  const folders: string[] = [];
  afterEach(() => {
    for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true });
  });

  function podFolders(): { root: string; input: string; workspace: string; home: string } {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-k8s-'));
    folders.push(root);
    const paths = { root, input: path.join(root, 'input'), workspace: path.join(root, 'workspace'), home: path.join(root, 'home') };
    for (const folder of [paths.input, paths.workspace, paths.home]) fs.mkdirSync(folder);
    return paths;
  }

  function secretVolume(input: string, entries: Record<string, string>): void {
    const data = path.join(input, '..2026_11_24_03_41_05.1');
    for (const [relative, content] of Object.entries(entries)) {
      const file = path.join(data, relative);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content, { mode: 0o440 });
    }
    fs.symlinkSync(path.basename(data), path.join(input, '..data'));
    for (const top of new Set(Object.keys(entries).map((relative) => relative.split('/')[0]!))) {
      fs.symlinkSync(path.join('..data', top), path.join(input, top));
    }
  }

  function localScript(script: string, paths: { input: string; workspace: string }): string {
    expect(script).toContain(POD_WORKDIR);
    return script.replaceAll(INPUT_DIR, paths.input).replaceAll(POD_WORKDIR, paths.workspace);
  }

  it('the run script places each file at its relative path, writable, and pipes the prompt to stdin unevaluated', () => {
    const paths = podFolders();
    const prompt = 'do it $(touch pwned) `touch pwned2` "$HOME"\n';
    secretVolume(paths.input, {
      prompt,
      'files/.claude/settings.json': '{"a":1}',
      'files/dir with space/$(touch pwned3).md': 'x',
    });
    const output = execFileSync(
      '/bin/sh',
      ['-c', localScript(RUN_SCRIPT, paths), 'fracta-run', '/bin/sh', '-c', 'printf "%s|" "$@"; cat', 'inner', 'a b', '$(id)'],
      { cwd: paths.workspace, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: paths.home }, encoding: 'utf8' },
    );
    expect(output).toBe(`a b|$(id)|${prompt}`);
    expect(fs.readFileSync(path.join(paths.workspace, '.claude/settings.json'), 'utf8')).toBe('{"a":1}');
    expect(fs.readFileSync(path.join(paths.workspace, 'dir with space/$(touch pwned3).md'), 'utf8')).toBe('x');
    expect(fs.statSync(path.join(paths.workspace, '.claude/settings.json')).mode & 0o200).toBe(0o200);
    for (const name of ['pwned', 'pwned2', 'pwned3']) expect(fs.existsSync(path.join(paths.workspace, name)), name).toBe(false);
  });

  it('the run script gives an empty stdin when there is no prompt, and exits with the command', () => {
    const paths = podFolders();
    let exit = 0;
    let output = '';
    try {
      execFileSync('/bin/sh', ['-c', localScript(RUN_SCRIPT, paths), 'fracta-run', '/bin/sh', '-c', 'printf "[%s]" "$(cat)"; exit 3'], {
        cwd: paths.workspace,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: paths.home },
        encoding: 'utf8',
      });
    } catch (error) {
      exit = (error as { status: number }).status;
      output = (error as { stdout: string }).stdout;
    }
    expect(exit).toBe(3);
    expect(output).toBe('[]');
  });

  it('the clone script clones the base branch into the workspace and checks out the run branch', () => {
    const paths = podFolders();
    const origin = path.join(paths.root, 'origin');
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8', env: { ...process.env, HOME: paths.home } });
    fs.mkdirSync(origin);
    git(origin, 'init', '-q', '-b', 'main');
    fs.writeFileSync(path.join(origin, 'README.md'), 'hello\n');
    git(origin, 'add', 'README.md');
    git(origin, 'commit', '-q', '-m', 'init');
    execFileSync('/bin/sh', ['-c', localScript(CLONE_SCRIPT, paths), 'fracta-clone', origin, 'main', 'fracta/task-1'], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: paths.home },
      stdio: 'pipe',
    });
    expect(fs.readFileSync(path.join(paths.workspace, 'README.md'), 'utf8')).toBe('hello\n');
    expect(git(paths.workspace, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('fracta/task-1');
    expect(fs.readFileSync(path.join(paths.home, '.gitconfig'), 'utf8')).toContain(paths.workspace);
  });
});
