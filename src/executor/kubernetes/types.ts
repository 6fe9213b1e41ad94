/**
 * What a run on Kubernetes is made of: a generic Job (backend.ts) plus this part, which its plan
 * binds into the run's target (spawn/kubernetes.ts); the manifest builder turns both into a Secret
 * and a Job, and the client sends them.
 */
import type { KubernetesConfig } from '../../config/schema.js';
import type { ContentFile } from '../../workspace/files.js';

/** The pod's workspace: the host's command is built for this directory, not the local one. */
export const POD_WORKDIR = '/workspace';

/** Labels every object fracta creates carries, so a restart can find them again. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'fracta';
export const RUN_ID_LABEL = 'fracta.dev/run-id';
export const RUNTIME_LABEL = 'fracta.dev/runtime';
/** Which fracta install (FRACTA_HOME) made it: a restart reconciles only its own Jobs, never another install's. */
export const HOME_LABEL = 'fracta.dev/home';


export interface KubernetesRun {
  /** The runtime's `kubernetes:` block, with namespace and image present (checked at plan time). */
  readonly config: KubernetesConfig & { namespace: string; image: string };
  readonly runtime: string;
  /** activeDeadlineSeconds of the Job. */
  readonly timeoutS: number;
  /** Plain, non-secret variables fracta itself sets (FRACTA_RUN_ID, FRACTA_DEPTH, ...). */
  readonly fractaEnv: Readonly<Record<string, string>>;
  /** When the spawn names a git repository URL: cloned into the workspace by an init container. */
  readonly git?: { readonly url: string; readonly baseBranch: string; readonly branch: string };
  /** The HOME_LABEL value of the fracta install that runs it. */
  readonly home?: string;
}

/** What the manifests are built from: the run's part, and the workspace's files that reach the pod through its Secret. */
export interface ManifestInput extends KubernetesRun {
  readonly files: readonly ContentFile[];
}
