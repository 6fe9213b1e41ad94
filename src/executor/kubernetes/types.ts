/**
 * What a run on Kubernetes is made of. The runner hands the backend a generic Job (backend.ts) plus
 * this part; the manifest builder turns both into a Secret and a Job, and the client sends them.
 */
import type { KubernetesConfig } from '../../config/schema.js';

/** The pod's workspace: the host's command is built for this directory, not the local one. */
export const POD_WORKDIR = '/workspace';

/** Labels every object fracta creates carries, so a restart can find them again. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'fracta';
export const RUN_ID_LABEL = 'fracta.dev/run-id';
export const RUNTIME_LABEL = 'fracta.dev/runtime';
/** Which fracta install (FRACTA_HOME) made it: a restart reconciles only its own Jobs, never another install's. */
export const HOME_LABEL = 'fracta.dev/home';

/** A file of the host's workspace (settings, MCP config, the task file), relative to the workspace. */
export interface WorkspaceFile {
  readonly path: string;
  readonly content: string;
}

export interface KubernetesRun {
  /** The runtime's `kubernetes:` block, with namespace and image present (checked at plan time). */
  readonly config: KubernetesConfig & { namespace: string; image: string };
  readonly runtime: string;
  /** activeDeadlineSeconds of the Job. */
  readonly timeoutS: number;
  /** Plain, non-secret variables fracta itself sets (FRACTA_RUN_ID, FRACTA_DEPTH, ...). */
  readonly fractaEnv: Readonly<Record<string, string>>;
  /** Files the host wrote for the run; they reach the pod's workspace through the run's Secret. */
  readonly files: readonly WorkspaceFile[];
  /** When the spawn names a git repository URL: cloned into the workspace by an init container. */
  readonly git?: { readonly url: string; readonly baseBranch: string; readonly branch: string };
  /** The HOME_LABEL value of the fracta install that runs it. */
  readonly home?: string;
}

/** Where a run lives on the cluster, as its record keeps it (to cancel or reconcile it later). */
export interface KubernetesLocation {
  readonly backend: 'kubernetes';
  readonly namespace: string;
  readonly job: string;
  readonly context: string | null;
}
