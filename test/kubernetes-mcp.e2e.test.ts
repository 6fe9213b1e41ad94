/**
 * The kubernetes backend end to end: `fracta mcp` over real stdio, the real @kubernetes/client-node in
 * the server, the fake API server of test/kube/ in this process playing the cluster.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { homeLabel } from '../src/executor/kubernetes/remote.js';
import { HOME_LABEL, MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL } from '../src/executor/kubernetes/types.js';
import { startFakeCluster, type FakeCluster, type RecordedRequest } from './kube/fake-apiserver.js';
import { ECHO_AGENT, ECHO_JSON_RUNTIME, FIXTURE_CONFIG, ROOT, killQuietly, makeSandbox, onCleanup, runCleanups, runCli, startServer, structured, text, until, type Server } from './helpers/harness.js';

const NAMESPACE = 'agents';
const LOCAL_SECRET = 'sk-local-value-93be01';

let cluster: FakeCluster;

beforeEach(async () => {
  cluster = await startFakeCluster();
  onCleanup(() => cluster.close());
  cluster.seed('secrets', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'agent-keys', namespace: NAMESPACE },
    type: 'Opaque',
    data: { 'api-key': Buffer.from('sk-cluster-only').toString('base64') },
  });
});
afterEach(runCleanups);

function kubeconfigFile(dir: string): string {
  const file = path.join(dir, 'kubeconfig.yaml');
  fs.writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `  - name: fake`,
      `    cluster: { server: "${cluster.url}", insecure-skip-tls-verify: true }`,
      'users:',
      '  - name: tester',
      '    user: { token: test-token }',
      'contexts:',
      '  - name: fake',
      `    context: { cluster: fake, user: tester, namespace: ${NAMESPACE} }`,
      'current-context: fake',
      '',
    ].join('\n'),
  );
  return file;
}

/** The fixture config plus runtimes with a kubernetes: block pointing at the fake. */
function clusterConfig(kubeconfig: string): string {
  const block = (secret = 'agent-keys') => `
      kubernetes:
        namespace: ${NAMESPACE}
        image: registry.example/echo-agent:1
        kubeconfig: ${kubeconfig}
        env:
          - { name: AGENT_API_KEY, secret_ref: { name: ${secret}, key: api-key } }`;
  return `${FIXTURE_CONFIG}
    echo-json-anywhere:${ECHO_JSON_RUNTIME}
      env:
        AGENT_TOKEN: "\${FRACTA_TEST_SECRET}"${block()}
    echo-cluster:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      backend: kubernetes${block()}
    echo-cluster-nokey:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      backend: kubernetes${block('absent-keys')}
    claude-cluster:
      adapter: claude
      backend: kubernetes${block()}
    codex-cluster:
      adapter: codex
      command: codex
      model: fake-model
      backend: kubernetes${block()}
    echo-arg-cluster:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--", "{prompt}"]
      prompt_via: arg${block()}
`;
}

/** An API server that takes connections and never answers; a kubeconfig pointing at it. */
async function silentApiServer(dir: string): Promise<{ file: string; sockets: Set<net.Socket> }> {
  const silent = net.createServer(() => undefined);
  const sockets = new Set<net.Socket>();
  silent.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  onCleanup(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const file = path.join(dir, 'silent-kubeconfig.yaml');
  fs.writeFileSync(file, fs.readFileSync(kubeconfigFile(dir), 'utf8').replace(cluster.url, `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`));
  return { file, sockets };
}

async function start(): Promise<Server> {
  const sandbox = makeSandbox();
  const config = clusterConfig(kubeconfigFile(sandbox.dir));
  return startServer({ config, env: { FRACTA_TEST_SECRET: LOCAL_SECRET } });
}

const posts = (resource: string) => cluster.requests.filter((request) => request.method === 'POST' && request.resource === resource);

function isBackgroundDelete(request: RecordedRequest, job: string): boolean {
  return request.method === 'DELETE' && request.resource === 'jobs' && request.path.endsWith(`/jobs/${job}`);
}

describe('spawn with backend: kubernetes through MCP', () => {
  it('returns the same result shape as the same spawn run locally, and nothing local reaches the manifest', async () => {
    const server = await start();
    const task = 'summarize the release notes';
    const local = structured(await server.call('spawn', { task, runtime: 'echo-json-anywhere' }));
    expect(local).toMatchObject({ status: 'succeeded', backend: 'local', kubernetes: null });
    // The pod writes what the same CLI wrote here, split across chunks mid-line.
    const bytes = fs.readFileSync(local.stdout_path);
    cluster.script({ logChunks: [bytes.subarray(0, 17), bytes.subarray(17, 60), bytes.subarray(60)], exitCode: 0 });

    const remote = structured(await server.call('spawn', { task, runtime: 'echo-json-anywhere', backend: 'kubernetes', wait_s: 30 }));
    expect(remote.error).toBeNull();
    expect(Object.keys(remote).sort()).toEqual(Object.keys(local).sort());
    for (const key of ['status', 'output', 'output_bytes', 'resume_token', 'cost_usd', 'usage', 'num_turns', 'exit_code', 'host', 'tier', 'runtime', 'task_bytes']) {
      expect(remote[key], key).toEqual(local[key]);
    }
    expect(remote).toMatchObject({ backend: 'kubernetes', pid: null, kubernetes: { namespace: NAMESPACE, job: `fracta-${remote.run_id}`, context: 'fake' } });

    const [job] = posts('jobs');
    const manifest = JSON.stringify(job!.body);
    expect(manifest).not.toContain(task);
    expect(manifest).not.toContain(LOCAL_SECRET);
    expect(manifest).not.toContain('AGENT_TOKEN');
    expect(job!.body.spec.template.spec.containers[0].env).toContainEqual({ name: 'AGENT_API_KEY', valueFrom: { secretKeyRef: { name: 'agent-keys', key: 'api-key' } } });
    expect(job!.body.spec.template.spec.containers[0].env).toContainEqual({ name: 'FRACTA_RUN_ID', value: remote.run_id });
    const [secret] = posts('secrets');
    expect(JSON.stringify(secret!.body)).not.toContain(LOCAL_SECRET);
    // The host's files (here fracta's task file) reach the pod's workspace through the Secret.
    const input = job!.body.spec.template.spec.volumes.find((volume: { secret?: unknown }) => volume.secret);
    const taskItem = input.secret.items.find((item: { path: string }) => item.path === 'files/.fracta/task.md');
    expect(taskItem).toBeDefined();
    expect(secret!.body.stringData[taskItem.key]).toContain(task);
  });

  it('a repository URL with a base branch is cloned by an init container on a branch named for the run', async () => {
    const server = await start();
    cluster.script({ logChunks: ['done\n'], exitCode: 0 });
    const repo = 'https://git.example/team/app.git';
    const record = structured(await server.call('spawn', { task: 'Fix the login bug', runtime: 'echo-cluster', repo, base_branch: 'release-2', wait_s: 30 }));
    expect(record.status).toBe('succeeded');
    expect(record.git).toMatchObject({ repo, base_branch: 'release-2', branch: `fracta/fix-the-login-bug-${record.run_id.slice(-8)}` });
    const [job] = posts('jobs');
    const [clone] = job!.body.spec.template.spec.initContainers;
    expect(clone.command.slice(-4)).toEqual(['fracta-clone', repo, 'release-2', record.git.branch]);
  });

  it('stream: true runs the pod log through the host\'s stream parser: events on disk and progress for one turn', async () => {
    const server = await start();
    // What the real codex 0.169.0 wrote for one turn (test/fixtures/codex), split mid-line.
    const bytes = fs.readFileSync(path.join(ROOT, 'test/fixtures/codex/batch-success.jsonl'));
    cluster.script({ logChunks: [bytes.subarray(0, 50), bytes.subarray(50, 400), bytes.subarray(400)], exitCode: 0 });
    const progress: string[] = [];
    const result = await server.call('spawn', { task: 'say hi', runtime: 'codex-cluster', stream: true, wait_s: 30 }, { onprogress: (note) => progress.push(note.message ?? '') });
    const record = structured(result);
    expect(record.error).toBeNull();
    expect(record).toMatchObject({ status: 'succeeded', stream: true, backend: 'kubernetes', output: 'FAKE-OK: say hi from the fake', awaiting_input: false });
    const events = fs.readFileSync(record.events_path, 'utf8').trim().split('\n').map((line) => JSON.parse(line).event?.type ?? JSON.parse(line).type);
    expect(events).toEqual(expect.arrayContaining(['init', 'text', 'result']));
    expect(progress.join('\n')).toContain('FAKE-OK: say hi from the fake');
    // Its session ended with its pod: no follow-up message.
    const send = await server.call('send', { run_id: record.run_id, message: 'more' });
    expect(send.isError).toBe(true);
  });

  it('cancel deletes the Job with its pod (Background propagation, no body) and the run ends cancelled', async () => {
    const server = await start();
    cluster.script({ logChunks: ['working\n'], hold: true });
    const started = structured(await server.call('spawn', { task: 'run until stopped', runtime: 'echo-cluster', wait_s: 0 }));
    await cluster.waitForRequest((request) => request.resource === 'pods/log' && request.query['follow'] === 'true' && request.status === 200);
    const cancelled = structured(await server.call('cancel', { run_id: started.run_id }));
    expect(cancelled).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    const deletion = cluster.requests.find((request) => isBackgroundDelete(request, `fracta-${started.run_id}`));
    expect(deletion?.query['propagationPolicy']).toBe('Background');
    expect(deletion?.rawBody).toBe('');
    expect(cluster.objects('pods')).toEqual([]);
    expect(cluster.objects('jobs')).toEqual([]);
  });

  it('fracta cancel from another process deletes the Job; the server that runs it records it cancelled, and status shows the Job', async () => {
    const server = await start();
    cluster.script({ logChunks: ['working\n'], hold: true });
    const started = structured(await server.call('spawn', { task: 'run until stopped', runtime: 'echo-cluster', wait_s: 0 }));
    await cluster.waitForRequest((request) => request.resource === 'pods/log' && request.query['follow'] === 'true' && request.status === 200);
    const cli = { env: { ...server.sandbox.env, FRACTA_TEST_SECRET: LOCAL_SECRET } };
    const status = await runCli(['status', started.run_id, '--config', server.sandbox.configPath], cli);
    expect(status.stdout).toContain(`job:       ${NAMESPACE}/fracta-${started.run_id} (context fake)`);
    const cancel = await runCli(['cancel', started.run_id, '--config', server.sandbox.configPath], cli);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cluster.requests.find((request) => isBackgroundDelete(request, `fracta-${started.run_id}`))?.query['propagationPolicy']).toBe('Background');
    const record = structured(await server.call('wait', { run_id: started.run_id, timeout_s: 20 }));
    expect(record).toMatchObject({ status: 'cancelled' });
    expect(cluster.objects('pods')).toEqual([]);
  });

  it('fracta runtimes shows which runtimes go to the cluster, and their command as the image has it', async () => {
    const server = await start();
    const result = await runCli(['runtimes', '--config', server.sandbox.configPath], { env: { ...server.sandbox.env, FRACTA_TEST_SECRET: LOCAL_SECRET } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/echo-cluster .*echo-agent\.mjs \(in registry\.example\/echo-agent:1\)/);
    expect(result.stdout).toMatch(/echo-cluster \(backend: kubernetes\): namespace agents/);
    expect(result.stdout).not.toMatch(/echo-cluster .*NOT FOUND/);
  });

  it('a queued run already names its Job, so a fracta that dies before making it leaves a record to find it by', async () => {
    const server = await start();
    cluster.script({ logChunks: ['one\n'], hold: true });
    cluster.script({ logChunks: ['two\n'], hold: true });
    // echo-cluster may run 2 at once (max_runtime_concurrent): the third waits.
    const runs = [];
    for (const task of ['one', 'two', 'three']) runs.push(structured(await server.call('spawn', { task, runtime: 'echo-cluster', wait_s: 0 })));
    const queued = runs[2]!;
    expect(queued).toMatchObject({ status: 'queued', backend: 'kubernetes', kubernetes: { namespace: NAMESPACE, job: `fracta-${queued.run_id}`, context: null } });
    expect(posts('jobs')).toHaveLength(2);
    for (const run of runs.reverse()) await server.call('cancel', { run_id: run.run_id });
    expect(cluster.objects('jobs')).toEqual([]);
  });

  it('a missing Secret fails the run fast, naming the Secret and the key', async () => {
    const server = await start();
    const started = Date.now();
    const record = structured(await server.call('spawn', { task: 'x', runtime: 'echo-cluster-nokey', wait_s: 30 }));
    expect(record.status).toBe('failed');
    expect(record.error.code).toBe('k8s_secret_missing');
    expect(record.error.message).toMatch(/absent-keys/);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(cluster.requests.some((request) => isBackgroundDelete(request, `fracta-${record.run_id}`))).toBe(true);
  });

  it("a Job past its deadline ends the run as timed_out", async () => {
    const server = await start();
    cluster.script({ logChunks: ['still going\n'], deadline: true });
    const record = structured(await server.call('spawn', { task: 'x', runtime: 'echo-cluster', wait_s: 30 }));
    expect(record).toMatchObject({ status: 'timed_out', error: { code: 'timed_out' } });
  });

  it('what a pod cannot do is refused before anything is sent to the cluster', async () => {
    const server = await start();
    const refusals: Array<[Record<string, unknown>, RegExp]> = [
      [{ runtime: 'claude-cluster', stream: true }, /stream: runtime "claude-cluster" keeps a live session on the agent's stdin/],
      [{ runtime: 'claude-cluster', agent_mcp: true }, /agent_mcp: a pod cannot reach the fracta/],
      [{ runtime: 'claude-cluster', resume_token: 'abc' }, /resume_token: a session lives in its pod's home/],
      [{ runtime: 'echo-cluster', repo: server.sandbox.dir }, /repo: .* is not a repository URL/],
      [{ runtime: 'echo-cluster', repo: 'https://user:token@git.example/r.git', base_branch: 'main' }, /repo: holds credentials/],
      [{ runtime: 'echo-cluster', repo: 'https://git.example/r.git' }, /base_branch: is required/],
      [{ runtime: 'echo-arg-cluster', backend: 'kubernetes' }, /passes the prompt as an argument.*prompt_via: stdin/],
      [{ runtime: 'echo-json', backend: 'kubernetes' }, /no kubernetes: block/],
      [{ runtime: 'echo-json-anywhere', backend: 'kubernetes', agent_mcp: true }, /agent_mcp|capability/],
    ];
    for (const [args, message] of refusals) {
      const result = await server.call('spawn', { task: 'x', ...args });
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(text(result)).toMatch(message);
    }
    expect(cluster.requests.filter((request) => request.method !== 'GET')).toEqual([]);
    expect(fs.existsSync(path.join(server.sandbox.home, 'runs'))).toBe(false);
  });
});

describe('reconcile on start', () => {
  it('a server killed with SIGKILL while a run is on the cluster: the next start deletes its Job and marks it interrupted', async () => {
    const sandbox = makeSandbox();
    const config = clusterConfig(kubeconfigFile(sandbox.dir));
    const env = { FRACTA_TEST_SECRET: LOCAL_SECRET, FRACTA_HOME: sandbox.home };
    const first = await startServer({ config, env });
    cluster.script({ logChunks: ['working\n'], hold: true });
    const started = structured(await first.call('spawn', { task: 'long work', runtime: 'echo-cluster', wait_s: 0 }));
    await cluster.waitForRequest((request) => request.resource === 'pods/log' && request.query['follow'] === 'true' && request.status === 200);
    killQuietly(first.transport.pid!);

    const second = await startServer({ config, env });
    const deletion = await cluster.waitForRequest((request) => isBackgroundDelete(request, `fracta-${started.run_id}`));
    expect(deletion.query['propagationPolicy']).toBe('Background');
    const record = structured(await second.call('status', { run_id: started.run_id }));
    expect(record).toMatchObject({ status: 'interrupted', error: { code: 'server_stopped' } });
    expect(record.error.message).toContain(`its Job ${NAMESPACE}/fracta-${started.run_id} is deleted`);
    await until(() => cluster.objects('pods').length === 0 || undefined, 'the pod to be gone');
  });

  it('a cluster that never answers holds up no local spawn', async () => {
    const sandbox = makeSandbox();
    const { file, sockets } = await silentApiServer(sandbox.dir);
    const server = await startServer({ config: clusterConfig(file), env: { FRACTA_TEST_SECRET: LOCAL_SECRET } });
    await until(() => sockets.size > 0 || undefined, 'fracta to ask the cluster for its Jobs');
    const began = Date.now();
    const record = structured(await server.call('spawn', { task: 'local work', wait_s: 20 }));
    expect(record).toMatchObject({ status: 'succeeded', backend: 'local' });
    expect(Date.now() - began).toBeLessThan(10_000);
  });

  it('a spawn on a cluster whose API takes the connection and never answers fails within request_timeout_s with k8s_unreachable', async () => {
    const sandbox = makeSandbox();
    const { file } = await silentApiServer(sandbox.dir);
    const config = clusterConfig(file).replaceAll(`        kubeconfig: ${file}`, `        kubeconfig: ${file}\n        request_timeout_s: 2`);
    const server = await startServer({ config, env: { FRACTA_TEST_SECRET: LOCAL_SECRET } });
    const began = Date.now();
    const record = structured(await server.call('spawn', { task: 'cluster work', runtime: 'echo-cluster', wait_s: 30 }));
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(record).toMatchObject({ status: 'failed', error: { code: 'k8s_unreachable' } });
    expect(record.error.message).toMatch(/did not answer a request to create Secret .* within 2 s \(kubernetes.request_timeout_s\)/);
    const listed = structured(await server.call('runs', {}));
    expect(listed.runs.find((run: { run_id: string }) => run.run_id === record.run_id).status).toBe('failed');
  });

  it('a namespace that refuses the sweep (403) is reported, and the other namespaces are still swept', async () => {
    const sandbox = makeSandbox();
    const kubeconfig = kubeconfigFile(sandbox.dir);
    const config = `${clusterConfig(kubeconfig)}
    echo-cluster-other:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      backend: kubernetes
      kubernetes:
        namespace: other
        image: registry.example/echo-agent:1
        kubeconfig: ${kubeconfig}
`;
    cluster.seed('jobs', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'fracta-orphan-other', namespace: 'other', labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [RUN_ID_LABEL]: 'orphan-other', [HOME_LABEL]: homeLabel(sandbox.home) } },
      spec: { template: { spec: { containers: [{ name: 'agent', image: 'x' }], restartPolicy: 'Never' } } },
      status: { active: 1 },
    });
    cluster.refuse('list', 'jobs', 403, { namespace: NAMESPACE, times: 10 });
    const server = await startServer({ config, env: { FRACTA_TEST_SECRET: LOCAL_SECRET, FRACTA_HOME: sandbox.home } });
    const deletion = await cluster.waitForRequest((request) => isBackgroundDelete(request, 'fracta-orphan-other'));
    expect(deletion.path).toBe('/apis/batch/v1/namespaces/other/jobs/fracta-orphan-other');
    await server.call('runs', {});
    await until(() => /could not reconcile Jobs in namespace "agents": .*forbidden/i.test(server.stderr()) || undefined, 'the refusal to be reported');
    expect(server.stderr()).toMatch(/deleted 1 Job\(s\) no run accounts for: other\/fracta-orphan-other/);
  });

  it("deletes this install's Jobs that no live run accounts for, and leaves other installs' and finished ones alone", async () => {
    const sandbox = makeSandbox();
    const config = clusterConfig(kubeconfigFile(sandbox.dir));
    const ours = homeLabel(sandbox.home);
    const seedJob = (name: string, runId: string, home: string, status: Record<string, unknown>) =>
      cluster.seed('jobs', {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name, namespace: NAMESPACE, labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [RUN_ID_LABEL]: runId, [HOME_LABEL]: home } },
        spec: { template: { spec: { containers: [{ name: 'agent', image: 'x' }], restartPolicy: 'Never' } } },
        status,
      });
    seedJob('fracta-orphan', 'orphan', ours, { active: 1 });
    seedJob('fracta-finished', 'finished', ours, { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] });
    seedJob('fracta-elsewhere', 'elsewhere', 'h-another-install', { active: 1 });
    const server = await startServer({ config, env: { FRACTA_TEST_SECRET: LOCAL_SECRET, FRACTA_HOME: sandbox.home } });
    const deletion = await cluster.waitForRequest((request) => request.method === 'DELETE' && request.resource === 'jobs');
    expect(deletion.path).toBe(`/apis/batch/v1/namespaces/${NAMESPACE}/jobs/fracta-orphan`);
    expect(deletion.query['propagationPolicy']).toBe('Background');
    await server.call('runs', {});
    expect(cluster.objects('jobs').map((job) => job['metadata'].name).sort()).toEqual(['fracta-elsewhere', 'fracta-finished']);
    expect(server.stderr()).toMatch(/deleted 1 Job\(s\) no run accounts for: agents\/fracta-orphan/);
  });
});
