/**
 * The kubernetes backend with the real @kubernetes/client-node against the fake API server on
 * 127.0.0.1 (test/kube/fake-apiserver.ts), asserting the requests the client sent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job, RunningJob } from '../src/executor/backend.js';
import { kubernetesBackend } from '../src/executor/kubernetes/backend.js';
import { deleteRunJob, listManagedJobs } from '../src/executor/kubernetes/reconcile.js';
import { MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL, type KubernetesRun } from '../src/executor/kubernetes/types.js';
import { FractaError } from '../src/errors.js';
import { startFakeCluster, type FakeCluster, type RecordedRequest } from './kube/fake-apiserver.js';

const NAMESPACE = 'agents';
const IMAGE = 'ghcr.io/example/claude-agent:1.0';
const PROMPT = 'PROMPT-7f3a: refactor the parser and tell nobody';
const LOCAL_SECRET = 'sk-local-only-4b1e9c';

let cluster: FakeCluster;
let dir: string;
let kubeconfig: string;
const running: RunningJob[] = [];
let runCount = 0;

beforeEach(async () => {
  cluster = await startFakeCluster();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-k8s-'));
  kubeconfig = writeKubeconfig(dir, cluster.url);
});

afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((job) => job.terminate()));
  await cluster.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeKubeconfig(folder: string, server: string, context = 'fake'): string {
  const file = path.join(folder, 'kubeconfig.yaml');
  fs.writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `  - name: ${context}`,
      `    cluster: { server: "${server}", insecure-skip-tls-verify: true }`,
      'users:',
      '  - name: tester',
      '    user: { token: test-token }',
      'contexts:',
      `  - name: ${context}`,
      `    context: { cluster: ${context}, user: tester, namespace: ${NAMESPACE} }`,
      `current-context: ${context}`,
      '',
    ].join('\n'),
  );
  return file;
}

interface TestRun {
  readonly job: Job;
  readonly kubernetes: KubernetesRun;
  readonly lines: string[];
  /** Resolves with the first line the parser gets. */
  readonly firstLine: Promise<string>;
}

function makeRun(options: { runId?: string; kubeconfigFile?: string; secretRef?: boolean } = {}): TestRun {
  const runId = options.runId ?? `t${Date.now().toString(36)}${++runCount}`;
  const lines: string[] = [];
  let gotLine!: (line: string) => void;
  const firstLine = new Promise<string>((resolve) => (gotLine = resolve));
  const kubernetes: KubernetesRun = {
    config: {
      namespace: NAMESPACE,
      image: IMAGE,
      kubeconfig: options.kubeconfigFile ?? kubeconfig,
      env: options.secretRef === false ? [] : [{ name: 'ANTHROPIC_API_KEY', secret_ref: { name: 'claude-secret', key: 'api-key' } }],
    },
    runtime: 'claude',
    timeoutS: 600,
    fractaEnv: { FRACTA_RUN_ID: runId },
  };
  const job: Job = {
    runId,
    command: 'claude',
    args: ['-p', '--output-format', 'stream-json'],
    cwd: dir,
    env: { ANTHROPIC_API_KEY: LOCAL_SECRET, PATH: '/usr/bin:/bin', LOCAL_ONLY: 'local-value-93d1' },
    stdin: PROMPT,
    onStdoutLine: (line) => {
      lines.push(line);
      gotLine(line);
    },
    stdoutPath: path.join(dir, `${runId}.stdout.log`),
    stderrPath: path.join(dir, `${runId}.stderr.log`),
    killGraceMs: 1_000,
    secrets: [LOCAL_SECRET],
    files: [{ path: '.claude/settings.json', content: '{"permissions":{}}' }],
  };
  return { job, kubernetes, lines, firstLine };
}

function seedApiKey(data: Record<string, string> = { 'api-key': Buffer.from('sk-cluster').toString('base64') }): void {
  cluster.seed('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'claude-secret', namespace: NAMESPACE }, type: 'Opaque', data });
}

async function start(run: TestRun): Promise<RunningJob> {
  const started = await kubernetesBackend().start(run.job, run.kubernetes);
  running.push(started);
  return started;
}

async function startError(run: TestRun): Promise<FractaError> {
  const error = await kubernetesBackend()
    .start(run.job, run.kubernetes)
    .then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
  expect(error).toBeInstanceOf(FractaError);
  return error as FractaError;
}

/** Fails the test if `promise` has not settled within `ms` (an event that never comes, not a sleep). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const jobNameOf = (run: TestRun) => `fracta-${run.job.runId}`;
const summary = (request: RecordedRequest) => `${request.method} ${request.path}`;
const isLog = (request: RecordedRequest) => request.resource === 'pods/log';

/** Bytes cut at awkward places: inside a line and inside a multi-byte character. */
function cutBytes(text: string, cuts: number[]): Buffer[] {
  const bytes = Buffer.from(text);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of [...cuts, bytes.length]) {
    pieces.push(bytes.subarray(from, at));
    from = at;
  }
  return pieces;
}

describe('kubernetes backend', () => {
  it('a successful run: JSON output cut mid-line and mid-character arrives whole in the stdout file and in order at the parser; the Secret is owned by the Job; the Job holds no prompt and no local env', async () => {
    seedApiKey();
    const output = '{"type":"system","note":"héllo 日本"}\n{"type":"result","result":"done ✓","is_error":false}\n';
    const bytes = Buffer.from(output);
    const inCharacter = bytes.indexOf(Buffer.from('日')) + 1;
    cluster.script({ logChunks: cutBytes(output, [7, inCharacter, bytes.indexOf('\n') + 3, bytes.length - 4]) });
    const run = makeRun();
    const job = await start(run);

    expect(job.pid).toBeNull();
    expect(job.place).toEqual({ backend: 'kubernetes', kubernetes: { namespace: NAMESPACE, job: jobNameOf(run), context: 'fake' } });
    expect(await job.exited).toEqual({ exitCode: 0, signal: null });
    expect(fs.readFileSync(run.job.stdoutPath)).toEqual(bytes);
    expect(run.lines).toEqual(['{"type":"system","note":"héllo 日本"}', '{"type":"result","result":"done ✓","is_error":false}']);
    expect(fs.readFileSync(run.job.stderrPath, 'utf8')).toBe('');

    const [createSecret, createJob, patch] = cluster.requests;
    expect([createSecret, createJob, patch].map((request) => request && summary(request))).toEqual([
      `POST /api/v1/namespaces/${NAMESPACE}/secrets`,
      `POST /apis/batch/v1/namespaces/${NAMESPACE}/jobs`,
      `PATCH /api/v1/namespaces/${NAMESPACE}/secrets/${jobNameOf(run)}-input`,
    ]);
    expect(createSecret!.body.stringData.prompt).toBe(PROMPT);
    const sentJob = createJob!.rawBody;
    for (const leak of [PROMPT, LOCAL_SECRET, 'local-value-93d1']) expect(sentJob).not.toContain(leak);
    expect(createJob!.body.spec.template.spec.containers[0].env).toContainEqual({ name: 'ANTHROPIC_API_KEY', valueFrom: { secretKeyRef: { name: 'claude-secret', key: 'api-key' } } });

    const stored = cluster.state.get('jobs', NAMESPACE, jobNameOf(run))!;
    expect(patch!.contentType).toBe('application/json-patch+json');
    expect(patch!.body).toEqual([
      { op: 'add', path: '/metadata/ownerReferences', value: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobNameOf(run), uid: stored['metadata'].uid }] },
    ]);
    expect(cluster.state.get('secrets', NAMESPACE, `${jobNameOf(run)}-input`)!['metadata'].ownerReferences).toEqual([
      { apiVersion: 'batch/v1', kind: 'Job', name: jobNameOf(run), uid: stored['metadata'].uid },
    ]);

    // Then: the pod and the Job followed (list, watch from the list's version), the log followed, then read whole once.
    const rest = cluster.requests.slice(3);
    const podSelector = `${RUN_ID_LABEL}=${run.job.runId}`;
    expect(rest.filter((request) => request.resource === 'pods').map((request) => [request.verb, request.query['labelSelector']])).toEqual([
      ['list', podSelector],
      ['watch', podSelector],
    ]);
    expect(rest.filter((request) => request.resource === 'jobs').map((request) => [request.verb, request.query['fieldSelector']])).toEqual([
      ['list', `metadata.name=${jobNameOf(run)}`],
      ['watch', `metadata.name=${jobNameOf(run)}`],
    ]);
    expect(rest.filter((request) => request.verb === 'watch').every((request) => Number(request.query['resourceVersion']) > 0)).toBe(true);
    const logs = rest.filter(isLog);
    expect(logs.map((request) => [request.query['container'], request.query['follow'] ?? 'false', request.status])).toEqual([
      ['agent', 'true', 200],
      ['agent', 'false', 200],
    ]);
    expect(rest.some((request) => request.method === 'DELETE')).toBe(false);
    // Every watch and log stream was closed by the client when the run ended.
    await within(cluster.idle(), 2_000, 'every watch and log stream closed');
  });

  it('a non-zero exit of the agent is the exit code of the run', async () => {
    seedApiKey();
    cluster.script({ logChunks: ['{"type":"result","is_error":true}\n'], exitCode: 3 });
    const run = makeRun();
    const job = await start(run);
    expect(await job.exited).toEqual({ exitCode: 3, signal: null });
    expect(run.lines).toEqual(['{"type":"result","is_error":true}']);
  });

  it('a missing Secret fails the run at once with k8s_secret_missing naming the Secret and key, and deletes the Job with Background propagation and no body', async () => {
    cluster.script({ logChunks: ['never\n'] });
    const run = makeRun();
    const begun = Date.now();
    const job = await start(run);
    const exit = await job.exited;
    expect(Date.now() - begun).toBeLessThan(3_000);
    expect(exit.exitCode).toBeNull();
    expect(exit.startError?.code).toBe('k8s_secret_missing');
    expect(exit.startError?.message).toContain('Secret "claude-secret" (key "api-key")');
    expect(exit.startError?.message).toContain(`namespace "${NAMESPACE}"`);
    const deletion = cluster.requests.filter((request) => request.method === 'DELETE');
    expect(deletion.map((request) => [summary(request), request.query, request.rawBody])).toEqual([
      [`DELETE /apis/batch/v1/namespaces/${NAMESPACE}/jobs/${jobNameOf(run)}`, { propagationPolicy: 'Background' }, ''],
    ]);
    expect(cluster.requests.some(isLog)).toBe(false);
  });

  it('a Secret without the key fails at once with k8s_secret_missing naming the key', async () => {
    seedApiKey({ other: Buffer.from('x').toString('base64') });
    const run = makeRun();
    const job = await start(run);
    const exit = await job.exited;
    expect(exit.startError?.code).toBe('k8s_secret_missing');
    expect(exit.startError?.message).toContain(`Secret "claude-secret" in namespace "${NAMESPACE}" has no key "api-key"`);
  });

  it('an image that cannot be pulled fails the run with k8s_image_failed naming the image', async () => {
    seedApiKey();
    cluster.script({ image: 'bad' });
    const run = makeRun();
    const job = await start(run);
    const exit = await job.exited;
    expect(exit.startError?.code).toBe('k8s_image_failed');
    expect(exit.startError?.message).toContain(`the image "${IMAGE}" of runtime "claude" cannot be pulled (ErrImagePull`);
    expect(cluster.requests.filter((request) => request.method === 'DELETE').map((request) => request.query)).toEqual([{ propagationPolicy: 'Background' }]);
  });

  it('an invalid image name fails the run with k8s_image_failed', async () => {
    seedApiKey();
    cluster.script({ image: 'invalid' });
    const job = await start(makeRun());
    const exit = await job.exited;
    expect(exit.startError?.code).toBe('k8s_image_failed');
    expect(exit.startError?.message).toContain('is not a valid image reference (InvalidImageName');
  });

  it('a Job past its deadline ends the run with deadlineExceeded and keeps what the pod wrote', async () => {
    seedApiKey();
    cluster.script({ logChunks: ['working on it\n'], chunkDelayMs: 50, deadline: true });
    const run = makeRun();
    const job = await start(run);
    const exit = await job.exited;
    expect(exit.deadlineExceeded).toBe(true);
    expect(exit.startError).toBeUndefined();
    expect(fs.readFileSync(run.job.stdoutPath, 'utf8')).toBe('working on it\n');
  });

  it('cancel while the log streams deletes the Job with Background propagation and no body, leaves no pod and no Secret, and the run ends', async () => {
    seedApiKey();
    cluster.script({ logChunks: ['first line\n', 'second line\n'], hold: true });
    const run = makeRun();
    const job = await start(run);
    expect(await run.firstLine).toBe('first line');
    await job.terminate();
    expect(await job.exited).toEqual({ exitCode: null, signal: 'SIGTERM' });

    const deletes = cluster.requests.filter((request) => request.method === 'DELETE');
    expect(deletes.map((request) => [summary(request), request.query, request.rawBody, request.status])).toEqual([
      [`DELETE /apis/batch/v1/namespaces/${NAMESPACE}/jobs/${jobNameOf(run)}`, { propagationPolicy: 'Background' }, '', 200],
    ]);
    expect(cluster.objects('pods')).toEqual([]);
    expect(cluster.objects('jobs')).toEqual([]);
    expect(cluster.objects('secrets').map((secret) => secret['metadata'].name)).toEqual(['claude-secret']);
    expect(fs.readFileSync(run.job.stdoutPath, 'utf8')).toBe('first line\nsecond line\n');
    await within(cluster.idle(), 2_000, 'every watch and log stream closed');
    // A second cancel, with the run over, is done at once.
    await job.terminate();
  });

  it('403 on creating the Job names the verb, the resource and the RBAC manifest, and removes the Secret it made', async () => {
    cluster.refuse('create', 'jobs', 403);
    const run = makeRun();
    const error = await startError(run);
    expect(error.code).toBe('k8s_forbidden');
    expect(error.message).toContain(`Kubernetes refused to create jobs in namespace "${NAMESPACE}" (403 Forbidden: jobs.batch is forbidden: User "system:serviceaccount:fracta:fracta-runner" cannot create`);
    expect(error.message).toContain('needs the verb "create" on "jobs" in API group "batch"');
    expect(error.message).toContain('docs/kubernetes/rbac.yaml');
    expect(cluster.requests.map(summary)).toEqual([
      `POST /api/v1/namespaces/${NAMESPACE}/secrets`,
      `POST /apis/batch/v1/namespaces/${NAMESPACE}/jobs`,
      `DELETE /api/v1/namespaces/${NAMESPACE}/secrets/${jobNameOf(run)}-input`,
    ]);
    expect(cluster.objects('secrets')).toEqual([]);
  });

  it('403 on making the Job own its Secret removes both and names the verb', async () => {
    cluster.refuse('patch', 'secrets', 403);
    const run = makeRun();
    const error = await startError(run);
    expect(error.code).toBe('k8s_forbidden');
    expect(error.message).toContain('needs the verb "patch" on "secrets"');
    expect(cluster.requests.filter((request) => request.method === 'DELETE').map((request) => [summary(request), request.query, request.rawBody])).toEqual(
      expect.arrayContaining([
        [`DELETE /apis/batch/v1/namespaces/${NAMESPACE}/jobs/${jobNameOf(run)}`, { propagationPolicy: 'Background' }, ''],
        [`DELETE /api/v1/namespaces/${NAMESPACE}/secrets/${jobNameOf(run)}-input`, {}, ''],
      ]),
    );
    expect(cluster.objects('secrets')).toEqual([]);
    expect(cluster.objects('jobs')).toEqual([]);
  });

  it('409: a second run with the same run id is refused as a run-id collision and leaves the first run alone', async () => {
    seedApiKey();
    cluster.script({ logChunks: ['first run\n'], hold: true });
    const first = makeRun();
    const job = await start(first);
    await first.firstLine;
    const error = await startError(makeRun({ runId: first.job.runId }));
    expect(error.code).toBe('k8s_conflict');
    expect(error.message).toContain(`a Job for run id "${first.job.runId}" already exists: the run id was used before (a run-id collision)`);
    expect(cluster.objects('secrets').map((secret) => secret['metadata'].name)).toContain(`${jobNameOf(first)}-input`);
    expect(cluster.objects('pods')).toHaveLength(1);
    await job.terminate();
  });

  it('409 on creating the Job is a run-id collision, and the Secret made for it is removed', async () => {
    cluster.refuse('create', 'jobs', 409);
    const run = makeRun();
    const error = await startError(run);
    expect(error.code).toBe('k8s_conflict');
    expect(error.message).toContain(`Job "${jobNameOf(run)}" already exists in namespace "${NAMESPACE}" (409 AlreadyExists)`);
    expect(cluster.objects('secrets')).toEqual([]);
  });

  it('422 on creating the Job lists each field the API refused', async () => {
    cluster.refuse('create', 'jobs', 422, {
      causes: [
        { field: 'spec.template.spec.containers[0].resources.limits.cpu', message: 'Invalid value: "lots": must be a quantity', reason: 'FieldValueInvalid' },
        { field: 'spec.template.spec.nodeSelector', message: 'Invalid value: "a b": a valid label must be...', reason: 'FieldValueInvalid' },
      ],
    });
    const error = await startError(makeRun());
    expect(error.code).toBe('k8s_invalid');
    expect(error.message).toContain(
      '(422): spec.template.spec.containers[0].resources.limits.cpu: Invalid value: "lots": must be a quantity; spec.template.spec.nodeSelector: Invalid value: "a b"',
    );
  });

  it('a cluster that does not answer is k8s_unreachable naming the server and the context', async () => {
    const address = cluster.url;
    await cluster.close();
    cluster = await startFakeCluster();
    const other = fs.mkdtempSync(path.join(dir, 'gone-'));
    const error = await startError(makeRun({ kubeconfigFile: writeKubeconfig(other, address, 'gone-cluster') }));
    expect(error.code).toBe('k8s_unreachable');
    expect(error.message).toContain(`cannot reach the Kubernetes API at ${address} (context "gone-cluster"): ECONNREFUSED`);
  });

  it('403 on watching pods fails the run with k8s_forbidden naming the verb, and deletes the Job', async () => {
    seedApiKey();
    cluster.refuse('watch', 'pods', 403);
    cluster.script({ logChunks: ['never read\n'], hold: true });
    const run = makeRun();
    const job = await start(run);
    const exit = await job.exited;
    expect(exit.startError?.code).toBe('k8s_forbidden');
    expect(exit.startError?.message).toContain(`Kubernetes refused to watch pods in namespace "${NAMESPACE}" (403 Forbidden`);
    expect(exit.startError?.message).toContain('needs the verb "watch" on "pods" in API group ""');
    expect(cluster.requests.filter((request) => request.method === 'DELETE').map(summary)).toEqual([`DELETE /apis/batch/v1/namespaces/${NAMESPACE}/jobs/${jobNameOf(run)}`]);
  });

  it('kubernetes.context picks a context of the kubeconfig, which the location keeps; an unknown one lists those there are', async () => {
    seedApiKey();
    const file = path.join(dir, 'two-contexts.yaml');
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '  - { name: nowhere, cluster: { server: "http://127.0.0.1:9", insecure-skip-tls-verify: true } }',
        `  - { name: fake, cluster: { server: "${cluster.url}", insecure-skip-tls-verify: true } }`,
        'users: [{ name: tester, user: { token: test-token } }]',
        'contexts:',
        '  - { name: laptop, context: { cluster: nowhere, user: tester } }',
        '  - { name: staging, context: { cluster: fake, user: tester } }',
        'current-context: laptop',
        '',
      ].join('\n'),
    );
    const chosen = makeRun({ kubeconfigFile: file });
    const job = await start({ ...chosen, kubernetes: { ...chosen.kubernetes, config: { ...chosen.kubernetes.config, context: 'staging' } } });
    expect(job.place?.kubernetes?.context).toBe('staging');
    expect(await job.exited).toEqual({ exitCode: 0, signal: null });

    const unknown = makeRun({ kubeconfigFile: file });
    const error = await startError({ ...unknown, kubernetes: { ...unknown.kubernetes, config: { ...unknown.kubernetes.config, context: 'prod' } } });
    expect(error.code).toBe('config_invalid');
    expect(error.message).toContain('"prod" is not a context of the kubeconfig (it has: laptop, staging)');
  });

  it('logs asked for while the container is not yet served never fail the run: no log request before Running, a 400 after it is retried', async () => {
    seedApiKey();
    cluster.script({ pendingMs: 150, logLagMs: 60, chunkDelayMs: 40, logChunks: ['one\n', 'two\n', 'three\n', 'four\n', 'five\n'] });
    const run = makeRun();
    const job = await start(run);
    expect(await job.exited).toEqual({ exitCode: 0, signal: null });
    expect(run.lines).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(fs.readFileSync(run.job.stdoutPath, 'utf8')).toBe('one\ntwo\nthree\nfour\nfive\n');
    const running = cluster.transitions.find((transition) => transition.phase === 'Running')!;
    const logs = cluster.requests.filter(isLog);
    expect(logs.every((request) => request.seq > running.seq)).toBe(true);
    expect(logs.filter((request) => request.status === 400).length).toBeGreaterThan(0);
    expect(logs.filter((request) => request.query['follow'] === 'true' && request.status === 200)).toHaveLength(1);
  });

  it('a follow stream that ends before the log does: the whole log read at the end completes the file and the parser, masked', async () => {
    seedApiKey();
    cluster.script({ logChunks: ['start\n', 'middle\n', `leaked ${LOCAL_SECRET} here\n`, '{"type":"result"}\n'], dropTail: 2 });
    const run = makeRun();
    const job = await start(run);
    expect(await job.exited).toEqual({ exitCode: 0, signal: null });
    expect(fs.readFileSync(run.job.stdoutPath, 'utf8')).toBe('start\nmiddle\nleaked *** here\n{"type":"result"}\n');
    expect(run.lines).toEqual(['start', 'middle', 'leaked *** here', '{"type":"result"}']);
  });

  it('a Job deleted by someone else ends the run, and the live log stream it cuts off does no harm', async () => {
    seedApiKey();
    cluster.script({ logChunks: ['still going\n'], hold: true });
    const run = makeRun();
    const job = await start(run);
    await run.firstLine;
    // kubectl-style deletion from elsewhere, with batch/v1's default: the pod is orphaned and keeps running.
    const response = await fetch(`${cluster.url}/apis/batch/v1/namespaces/${NAMESPACE}/jobs/${jobNameOf(run)}`, { method: 'DELETE' });
    expect(response.status).toBe(200);
    expect(await job.exited).toEqual({ exitCode: null, signal: 'SIGTERM' });
    expect(cluster.objects('pods')).toHaveLength(1);
    expect(cluster.objects('pods')[0]!['metadata'].ownerReferences).toBeUndefined();
  });
});

describe('the fake API server models deletion as the real one does', () => {
  async function jobWithPod(): Promise<string> {
    seedApiKey();
    cluster.script({ hold: true });
    const run = makeRun();
    await start(run);
    await cluster.waitForRequest((request) => request.resource === 'pods/log' && request.status === 200);
    return jobNameOf(run);
  }

  it('a Job DELETE without options orphans its pods; with a body, the body wins over the query', async () => {
    const name = await jobWithPod();
    const url = `${cluster.url}/apis/batch/v1/namespaces/${NAMESPACE}/jobs/${name}?propagationPolicy=Background`;
    const response = await fetch(url, { method: 'DELETE', body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Orphan' }), headers: { 'Content-Type': 'application/json' } });
    expect(response.status).toBe(200);
    expect(cluster.objects('jobs')).toEqual([]);
    const pods = cluster.objects('pods');
    expect(pods).toHaveLength(1);
    expect(pods[0]!['status'].phase).toBe('Running');
  });
});

describe('reconcile', () => {
  function seedJob(name: string, labels: Record<string, string>, status: Record<string, unknown>, namespace = NAMESPACE): void {
    cluster.seed('jobs', { apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace, labels }, spec: { template: { spec: { containers: [{ name: 'agent', image: IMAGE }], restartPolicy: 'Never' } } }, status });
  }
  const ours = (runId: string) => ({ [MANAGED_BY_LABEL]: MANAGED_BY, [RUN_ID_LABEL]: runId });
  const config = () => ({ namespace: NAMESPACE, image: IMAGE, kubeconfig, env: [] });

  it("listManagedJobs finds only fracta's Jobs in the namespace, each with its run and state; deleteRunJob of a missing Job is fine", async () => {
    seedJob('fracta-run1', ours('run1'), { active: 1 });
    seedJob('fracta-run2', ours('run2'), { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] });
    seedJob('fracta-run3', ours('run3'), { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] });
    seedJob('nightly-backup', { [MANAGED_BY_LABEL]: 'helm' }, { active: 1 });
    seedJob('fracta-elsewhere', ours('run4'), { active: 1 }, 'other');

    const jobs = await listManagedJobs(config());
    expect(jobs.sort((a, b) => a.job.localeCompare(b.job))).toEqual([
      { runId: 'run1', namespace: NAMESPACE, job: 'fracta-run1', state: 'active' },
      { runId: 'run2', namespace: NAMESPACE, job: 'fracta-run2', state: 'succeeded' },
      { runId: 'run3', namespace: NAMESPACE, job: 'fracta-run3', state: 'failed' },
    ]);
    expect(cluster.requests.map((request) => [summary(request), request.query])).toEqual([
      [`GET /apis/batch/v1/namespaces/${NAMESPACE}/jobs`, { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` }],
    ]);

    expect(await deleteRunJob(config(), NAMESPACE, 'fracta-run1')).toBe(true);
    expect(await deleteRunJob(config(), NAMESPACE, 'fracta-missing')).toBe(false);
    const deletes = cluster.requests.filter((request) => request.method === 'DELETE');
    expect(deletes.map((request) => [summary(request), request.query, request.rawBody, request.status])).toEqual([
      [`DELETE /apis/batch/v1/namespaces/${NAMESPACE}/jobs/fracta-run1`, { propagationPolicy: 'Background' }, '', 200],
      [`DELETE /apis/batch/v1/namespaces/${NAMESPACE}/jobs/fracta-missing`, { propagationPolicy: 'Background' }, '', 404],
    ]);
  });
});
