/**
 * What the runner and crash recovery need of the kubernetes backend, without loading it: the backend
 * itself on a run's first start, a way to stop a run's Job from any fracta process (cancel from the
 * CLI, recovery after a crash), and the start-up sweep for Jobs no run record accounts for.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import type { FractaConfig } from '../../config/runtime.js';
import type { KubernetesConfig } from '../../config/schema.js';
import type { RunRecord } from '../../record.js';
import type { KubernetesBackend } from './backend.js';

/** The HOME_LABEL value of a fracta install: this machine and its FRACTA_HOME, hashed (a label value is short). */
export function homeLabel(fractaHome: string): string {
  return `h${createHash('sha256').update(`${os.hostname()}\0${fractaHome}`).digest('hex').slice(0, 20)}`;
}

type ClusterConfig = KubernetesConfig & { namespace: string };

export interface OrphanJob {
  readonly runId: string;
  readonly namespace: string;
  readonly job: string;
}

export interface ReconcileReport {
  readonly deleted: OrphanJob[];
  /** Namespaces that could not be swept (refused, or no answer), with why. */
  readonly failed: Array<{ readonly namespace: string; readonly message: string }>;
}

export class KubernetesRemote {
  private backendLoading: Promise<KubernetesBackend> | undefined;

  constructor(
    private readonly config: () => FractaConfig,
    readonly home: string,
  ) {}

  backend(): Promise<KubernetesBackend> {
    this.backendLoading ??= import('./backend.js').then(({ kubernetesBackend }) => kubernetesBackend());
    return this.backendLoading;
  }

  /** The cluster settings a run was started with: its runtime's, as the config has them now. */
  private clusterOf(runtime: string): ClusterConfig | undefined {
    const kubernetes = this.config().runtimes.get(runtime)?.kubernetes;
    return kubernetes?.namespace ? { ...kubernetes, namespace: kubernetes.namespace } : undefined;
  }

  /**
   * Whether the runtime's cluster answers and lets fracta list its Jobs (what every run and the
   * recovery sweep need first): resolves with how many Jobs of this install it holds, or rejects with why.
   */
  async reach(runtime: string): Promise<number> {
    const cluster = this.clusterOf(runtime);
    if (!cluster) throw new Error(`runtime "${runtime}" names no kubernetes.namespace: set one in its kubernetes: block`);
    const { listManagedJobs } = await import('./reconcile.js');
    return (await listManagedJobs(cluster, this.home)).length;
  }

  /** Deletes a run's Job (with its pod and input Secret); a Job already gone is fine. */
  async stop(record: RunRecord): Promise<void> {
    if (!record.kubernetes) return;
    const cluster = this.clusterOf(record.runtime);
    if (!cluster) {
      throw new Error(`runtime "${record.runtime}" has no kubernetes: block any more, so Job ${record.kubernetes.namespace}/${record.kubernetes.job} could not be deleted: delete it with kubectl`);
    }
    const { deleteRunJob } = await import('./reconcile.js');
    await deleteRunJob({ ...cluster, ...(record.kubernetes.context ? { context: record.kubernetes.context } : {}) }, record.kubernetes.namespace, record.kubernetes.job);
  }

  /**
   * Jobs of this install still running on a cluster that no live run accounts for (their record ended,
   * or is missing): deleted, so nothing runs that nobody watches. `owned` says whether a live fracta
   * process (this one or another sharing FRACTA_HOME) still follows the run.
   */
  async reconcile(owned: (runId: string) => Promise<boolean>): Promise<ReconcileReport> {
    const clusters = new Map<string, ClusterConfig>();
    const report: ReconcileReport = { deleted: [], failed: [] };
    let config: ReturnType<typeof this.config>;
    try {
      config = this.config();
    } catch {
      // A broken fracta.yaml is reported as itself (at start and by every call), not as a cluster that failed.
      return report;
    }
    for (const runtime of config.runtimes.values()) {
      const kubernetes = runtime.kubernetes;
      if (runtime.backend !== 'kubernetes' || !kubernetes?.namespace) continue;
      const key = `${kubernetes.kubeconfig ?? ''}\0${kubernetes.context ?? ''}\0${kubernetes.in_cluster ?? false}\0${kubernetes.namespace}`;
      clusters.set(key, { ...kubernetes, namespace: kubernetes.namespace });
    }
    if (clusters.size === 0) return report;
    const { deleteRunJob, listManagedJobs } = await import('./reconcile.js');
    // Each namespace on its own: one that refuses (403) or does not answer ends nobody else's sweep.
    await Promise.all(
      [...clusters.values()].map(async (cluster) => {
        try {
          const jobs = await listManagedJobs(cluster, this.home);
          for (const job of jobs) {
            if (job.state !== 'active' || (await owned(job.runId))) continue;
            await deleteRunJob(cluster, job.namespace, job.job);
            report.deleted.push({ runId: job.runId, namespace: job.namespace, job: job.job });
          }
        } catch (error) {
          report.failed.push({ namespace: cluster.namespace, message: (error as Error).message });
        }
      }),
    );
    return report;
  }
}
