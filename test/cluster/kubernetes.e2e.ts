/**
 * Opt-in: the kubernetes backend against a real cluster (kind or k3d on a developer's machine). Not
 * part of `npm test` (no cluster can run where CI runs); run it with
 *   FRACTA_K8S_E2E=1 npm run test:cluster
 * FRACTA_K8S_NAMESPACE (default agents, with docs/kubernetes/rbac.yaml applied), FRACTA_K8S_IMAGE
 * (default busybox:1.36: sh, find, cat and sleep are all the runs here need) and FRACTA_K8S_CONTEXT
 * (default: the kubeconfig's current context) choose where.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCleanups, startServer, structured, until } from '../helpers/harness.js';

const NAMESPACE = process.env.FRACTA_K8S_NAMESPACE ?? 'agents';
const IMAGE = process.env.FRACTA_K8S_IMAGE ?? 'busybox:1.36';
const CONTEXT = process.env.FRACTA_K8S_CONTEXT;

beforeAll(() => {
  if (process.env.FRACTA_K8S_E2E !== '1') {
    throw new Error('this test talks to a real cluster: set FRACTA_K8S_E2E=1 (see docs/kubernetes.md, "Testing against a real cluster")');
  }
});
afterEach(runCleanups);

function config(): string {
  const block = `
      backend: kubernetes
      kubernetes:
        namespace: ${NAMESPACE}
        image: ${IMAGE}${CONTEXT ? `\n        context: ${CONTEXT}` : ''}
        ttl_seconds_after_finished: 60`;
  return `agents:
  kill_grace_s: 2
  agent_runtimes:
    cat:
      adapter: command
      command: cat
      prompt_via: stdin
      output: text${block}
    sleeper:
      adapter: command
      command: sleep
      args: ["600"]${block}
`;
}

async function podsOf(runId: string): Promise<number> {
  const k8s = await import('@kubernetes/client-node');
  const kubeconfig = new k8s.KubeConfig();
  kubeconfig.loadFromDefault();
  if (CONTEXT) kubeconfig.setCurrentContext(CONTEXT);
  const pods = await kubeconfig.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: NAMESPACE, labelSelector: `fracta.dev/run-id=${runId}` });
  return pods.items.filter((pod) => !pod.metadata?.deletionTimestamp).length;
}

describe('the kubernetes backend on a real cluster', () => {
  it('runs a CLI in a Job with the prompt on its stdin and returns its output', async () => {
    const server = await startServer({ config: config() });
    const task = `hello from fracta ${Date.now()}`;
    const record = structured(await server.call('spawn', { task, runtime: 'cat', wait_s: 300 }, { timeout: 320_000 }));
    expect(record.error).toBeNull();
    expect(record).toMatchObject({ status: 'succeeded', backend: 'kubernetes', exit_code: 0 });
    expect(record.output).toContain(task);
  }, 330_000);

  it('cancel deletes the Job and leaves no pod', async () => {
    const server = await startServer({ config: config() });
    const started = structured(await server.call('spawn', { task: 'x', runtime: 'sleeper', wait_s: 0 }));
    await until(async () => (await podsOf(started.run_id)) > 0, 'the pod to exist', 120_000);
    const cancelled = structured(await server.call('cancel', { run_id: started.run_id }));
    expect(cancelled.status).toBe('cancelled');
    await until(async () => (await podsOf(started.run_id)) === 0, 'the pod to be gone', 60_000);
  }, 200_000);
});
