/**
 * The kubernetes backend: a run is a Job. start() sends the run's Secret and Job; PodRun (pod-run.ts) then
 * follows its pod through watches (pods by the run's label, the Job by name) and streams the
 * container's log into the run's stdout file, as the local backend streams a process's stdout.
 *
 * What the cluster never reports as a failure is turned into one here: a pod that waits forever for
 * a missing Secret or an image it cannot pull fails the run at once, with the Job deleted.
 */
import type { V1Job } from '@kubernetes/client-node';
import { FractaError } from '../../errors.js';
import type { Job, RunningJob } from '../backend.js';
import { isContentFile } from '../../workspace/files.js';
import { KubeClient } from './client.js';
import { buildManifests } from './manifest.js';
import { PodRun } from './pod-run.js';
import type { KubernetesRun } from './types.js';


export interface KubernetesBackendOptions {
  /** Builds the client for a runtime's `kubernetes:` block (KubeClient.connect unless given). */
  readonly connect?: (config: KubernetesRun['config']) => Promise<KubeClient>;
  /** After the pod ends, how long its log stream may take to deliver the rest before it is cut. */
  readonly logSettleMs?: number;
  /** After a cancel, how long to wait for the pod to be gone beyond its own grace. */
  readonly podGoneMs?: number;
}

/** Starts a run as a Job: the generic job, and what its plan decided for the cluster. */
export interface KubernetesBackend {
  start(job: Job, run: KubernetesRun): Promise<RunningJob>;
}

export function kubernetesBackend(options: KubernetesBackendOptions = {}): KubernetesBackend {
  const connect = options.connect ?? ((config) => KubeClient.connect(config));
  return {
    async start(job: Job, run: KubernetesRun): Promise<RunningJob> {
      // The workspace's files reach the pod through its Secret. Links are left out on purpose: a link
      // points at something on this machine (the gemini host links the user's own login files), and
      // what a pod may use to log in comes from the runtime's kubernetes.env, through the cluster's Secrets.
      const files = (job.files ?? []).filter(isContentFile).sort((a, b) => a.path.localeCompare(b.path));
      // What the builder can check is refused before any request is made.
      const manifests = buildManifests(job, { ...run, files });
      const kube = await connect(run.config);
      const namespace = run.config.namespace;
      const secretName = manifests.secret.metadata!.name!;
      const jobName = manifests.job.metadata!.name!;

      await kube.createSecret(namespace, manifests.secret, job.runId);
      let created: V1Job;
      try {
        created = await kube.createJob(namespace, manifests.job, job.runId);
      } catch (error) {
        await kube.deleteSecret(namespace, secretName).catch(() => undefined);
        throw error;
      }
      const uid = created.metadata?.uid;
      try {
        if (!uid) throw new FractaError('k8s_error', `Kubernetes created Job "${jobName}" in namespace "${namespace}" but returned no uid for it`);
        await kube.ownSecret(namespace, secretName, { name: jobName, uid });
      } catch (error) {
        // Unowned, the Secret would outlive the Job: the run does not go ahead without the link.
        await Promise.allSettled([kube.deleteJob(namespace, jobName), kube.deleteSecret(namespace, secretName)]);
        throw error;
      }

      const pod = new PodRun(kube, job, run, manifests.job, {
        logSettleMs: options.logSettleMs ?? 2_000,
        podGoneMs: options.podGoneMs ?? 10_000,
      });
      pod.begin();
      return {
        pid: null,
        place: { backend: 'kubernetes', kubernetes: { namespace, job: jobName, context: kube.context } },
        exited: pod.exited,
        terminate: () => pod.terminate(),
        write: () =>
          Promise.reject(new FractaError('stream_not_supported', 'a run on the kubernetes backend takes no input after it starts (its pod has no stdin to write to); use backend: local for a live session')),
        endInput: () => undefined,
      };
    },
  };
}

