/**
 * What a restarted fracta needs to find its runs on a cluster again: the Jobs it labelled, with the run
 * each belongs to and how far it got, and a way to remove one. Matching them with run records is the
 * run store's business.
 */
import type { V1Job } from '@kubernetes/client-node';
import type { KubernetesConfig } from '../../config/schema.js';
import { KubeClient } from './client.js';
import { HOME_LABEL, MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL } from './types.js';

export interface ManagedJob {
  readonly runId: string;
  readonly namespace: string;
  readonly job: string;
  readonly state: 'active' | 'succeeded' | 'failed';
}

type Connect = (config: KubernetesConfig) => Promise<KubeClient>;

const connectDefault: Connect = (config) => KubeClient.connect(config);

/**
 * The Jobs labelled as fracta's in the runtime's namespace (a Job without a run id label is not one of
 * fracta's runs); with `home`, only those of that fracta install.
 */
export async function listManagedJobs(config: KubernetesConfig & { namespace: string }, home?: string, connect: Connect = connectDefault): Promise<ManagedJob[]> {
  const kube = await connect(config);
  const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}${home ? `,${HOME_LABEL}=${home}` : ''}`;
  const list = await kube.listJobs(config.namespace, { labelSelector: selector });
  return list.items.flatMap((job) => {
    const runId = job.metadata?.labels?.[RUN_ID_LABEL];
    const name = job.metadata?.name;
    if (!runId || !name) return [];
    return [{ runId, namespace: job.metadata?.namespace ?? config.namespace, job: name, state: stateOf(job) }];
  });
}

/** Deletes a run's Job with its pods and Secret (Background propagation); false when it was already gone. */
export async function deleteRunJob(config: KubernetesConfig, namespace: string, job: string, connect: Connect = connectDefault): Promise<boolean> {
  const kube = await connect(config);
  return kube.deleteJob(namespace, job);
}

function stateOf(job: V1Job): ManagedJob['state'] {
  const conditions = job.status?.conditions ?? [];
  const holds = (type: string) => conditions.some((condition) => condition.type === type && condition.status === 'True');
  // FailureTarget and SuccessCriteriaMet come first (Kubernetes 1.31+): the verdict is in, the pods may still be going.
  if (holds('Failed') || holds('FailureTarget')) return 'failed';
  if (holds('Complete') || holds('SuccessCriteriaMet')) return 'succeeded';
  return 'active';
}
