/**
 * fracta's side of the Kubernetes API: a KubeConfig for a runtime's `kubernetes:` block, the few calls
 * fracta makes, and what the API answers turned into FractaErrors a person can act on.
 *
 * @kubernetes/client-node is loaded on first use (it weighs more than the rest of fracta together),
 * so this module only imports its types.
 */
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { BatchV1Api, CoreV1Api, KubeConfig, V1Job, V1JobList, V1PodList, V1Secret } from '@kubernetes/client-node';
import type { KubernetesConfig } from '../../config/schema.js';
import { FractaError } from '../../errors.js';

type Library = typeof import('@kubernetes/client-node');

/**
 * How long one request may take (kubernetes.request_timeout_s): an API server that takes the
 * connection and never answers must not hold a spawn, a cancel or a sweep for ever.
 */
export const DEFAULT_REQUEST_TIMEOUT_S = 15;

/** Every request fracta makes, as RBAC rules: docs/kubernetes/rbac.yaml grants exactly these. */
export const RBAC_RULES = [
  { apiGroup: '', resource: 'secrets', verbs: ['create', 'patch', 'delete'] },
  { apiGroup: 'batch', resource: 'jobs', verbs: ['create', 'list', 'watch', 'delete'] },
  { apiGroup: '', resource: 'pods', verbs: ['list', 'watch'] },
  { apiGroup: '', resource: 'pods/log', verbs: ['get'] },
] as const;

export const RBAC_DOC = 'docs/kubernetes/rbac.yaml';

export type Verb = 'create' | 'get' | 'list' | 'watch' | 'patch' | 'delete';
export type Resource = 'secrets' | 'jobs' | 'pods' | 'pods/log';

/** One request, as an error message names it. */
export interface Attempt {
  readonly verb: Verb;
  readonly resource: Resource;
  readonly namespace: string;
  readonly name?: string;
  /** The run the object belongs to: a 409 is then a run-id collision. */
  readonly runId?: string;
}

/** Where the requests go, for messages that say which cluster did not answer. */
export interface Target {
  readonly server: string;
  readonly context: string | null;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** A FractaError from a request, with the HTTP status the API answered (absent when none answered). */
export class KubeError extends FractaError {
  constructor(
    code: ConstructorParameters<typeof FractaError>[0],
    message: string,
    readonly status?: number,
  ) {
    super(code, message);
  }
}

export class KubeClient implements Target {
  private constructor(
    private readonly lib: Library,
    private readonly config: KubeConfig,
    private readonly core: CoreV1Api,
    private readonly batch: BatchV1Api,
    readonly server: string,
    readonly context: string | null,
    private readonly timeoutMs: number,
  ) {}

  /**
   * A client for a runtime's `kubernetes:` block: `in_cluster` uses the pod's service account,
   * `kubeconfig` a file, else the default loading ($KUBECONFIG, ~/.kube/config, then in-cluster);
   * `context` picks a context of the loaded file.
   */
  static async connect(config: KubernetesConfig): Promise<KubeClient> {
    const lib = await import('@kubernetes/client-node');
    const kc = new lib.KubeConfig();
    if (config.in_cluster) {
      if (!process.env['KUBERNETES_SERVICE_HOST'] || !process.env['KUBERNETES_SERVICE_PORT']) {
        throw new FractaError(
          'k8s_unreachable',
          'kubernetes.in_cluster is set but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not: fracta is not running in a pod; set kubernetes.kubeconfig or kubernetes.context instead',
        );
      }
      kc.loadFromCluster();
    } else if (config.kubeconfig) {
      const file = expandHome(config.kubeconfig);
      try {
        kc.loadFromFile(file);
      } catch (error) {
        throw new FractaError('config_invalid', `kubernetes.kubeconfig: cannot load ${file}: ${(error as Error).message}; give the path of a readable kubeconfig file`, 'kubernetes.kubeconfig');
      }
    } else {
      try {
        kc.loadFromDefault();
      } catch (error) {
        throw new FractaError('config_invalid', `cannot load the default kubeconfig ($KUBECONFIG or ~/.kube/config): ${(error as Error).message}`, 'kubernetes.kubeconfig');
      }
      // The library's last resort when it found nothing at all.
      if (kc.getCurrentCluster()?.server === 'http://localhost:8080' && kc.getCurrentContext() === 'loaded-context') {
        throw new FractaError(
          'k8s_unreachable',
          'no kubeconfig was found ($KUBECONFIG, ~/.kube/config) and fracta is not running in a pod: set kubernetes.kubeconfig, kubernetes.context or kubernetes.in_cluster for the runtime',
        );
      }
    }
    if (config.context) {
      if (!kc.getContextObject(config.context)) {
        const known = kc.getContexts().map((context) => context.name);
        throw new FractaError(
          'config_invalid',
          `kubernetes.context: "${config.context}" is not a context of the kubeconfig (it has: ${known.join(', ') || 'none'}); give one of those`,
          'kubernetes.context',
        );
      }
      kc.setCurrentContext(config.context);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) {
      throw new FractaError('config_invalid', `the kubeconfig's context "${kc.getCurrentContext()}" names no cluster: fix the kubeconfig or choose another kubernetes.context`, 'kubernetes.context');
    }
    const context = config.in_cluster ? null : kc.getCurrentContext();
    const timeoutMs = (config.request_timeout_s ?? DEFAULT_REQUEST_TIMEOUT_S) * 1000;
    return new KubeClient(lib, kc, kc.makeApiClient(lib.CoreV1Api), kc.makeApiClient(lib.BatchV1Api), cluster.server, context, timeoutMs);
  }

  createSecret(namespace: string, secret: V1Secret, runId?: string): Promise<V1Secret> {
    const attempt: Attempt = { verb: 'create', resource: 'secrets', namespace, name: secret.metadata?.name, ...(runId ? { runId } : {}) };
    return this.call(attempt, (options) => this.core.createNamespacedSecret({ namespace, body: secret }, options));
  }

  createJob(namespace: string, job: V1Job, runId?: string): Promise<V1Job> {
    const attempt: Attempt = { verb: 'create', resource: 'jobs', namespace, name: job.metadata?.name, ...(runId ? { runId } : {}) };
    return this.call(attempt, (options) => this.batch.createNamespacedJob({ namespace, body: job }, options));
  }

  /**
   * Makes the Job own the Secret, so the cluster's garbage collector removes the Secret with the Job.
   * A JSON patch: patchNamespacedSecret sends the first media type it supports,
   * application/json-patch+json, unless a middleware overrides it; a list of operations fits that
   * type without one. blockOwnerDeletion stays unset: setting it needs more RBAC on the Job.
   */
  async ownSecret(namespace: string, name: string, owner: { name: string; uid: string }): Promise<void> {
    const body = [{ op: 'add', path: '/metadata/ownerReferences', value: [{ apiVersion: 'batch/v1', kind: 'Job', name: owner.name, uid: owner.uid }] }];
    await this.call({ verb: 'patch', resource: 'secrets', namespace, name }, (options) => this.core.patchNamespacedSecret({ name, namespace, body }, options));
  }

  /**
   * Deletes a Job and, through the garbage collector, its pods and the Secret it owns. batch/v1 Jobs
   * orphan their pods by default, so the policy is Background, in the query and with no body: a body
   * (DeleteOptions) would replace the query's options altogether. Resolves false when the Job was gone.
   */
  async deleteJob(namespace: string, name: string): Promise<boolean> {
    return this.absentOk({ verb: 'delete', resource: 'jobs', namespace, name }, (options) => this.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }, options));
  }

  async deleteSecret(namespace: string, name: string): Promise<boolean> {
    return this.absentOk({ verb: 'delete', resource: 'secrets', namespace, name }, (options) => this.core.deleteNamespacedSecret({ name, namespace }, options));
  }

  listJobs(namespace: string, selector: { labelSelector?: string; fieldSelector?: string }): Promise<V1JobList> {
    return this.call({ verb: 'list', resource: 'jobs', namespace }, (options) => this.batch.listNamespacedJob({ namespace, ...selector }, options));
  }

  listPods(namespace: string, labelSelector: string): Promise<V1PodList> {
    return this.call({ verb: 'list', resource: 'pods', namespace }, (options) => this.core.listNamespacedPod({ namespace, labelSelector }, options));
  }

  /**
   * Watches pods or Jobs from a resource version. Objects arrive as the API sent them (plain JSON, not
   * the client's model classes). `onEnd` is called once, when the server ends the watch, it fails
   * (as a FractaError) or the returned controller aborts it.
   */
  async watch(
    resource: 'pods' | 'jobs',
    namespace: string,
    query: { labelSelector?: string; fieldSelector?: string; resourceVersion?: string },
    onEvent: (type: WatchEventType, object: any) => void,
    onEnd: (error: FractaError | null) => void,
  ): Promise<AbortController> {
    const prefix = resource === 'jobs' ? '/apis/batch/v1' : '/api/v1';
    const attempt: Attempt = { verb: 'watch', resource, namespace };
    const watch = new this.lib.Watch(this.config);
    return watch.watch(`${prefix}/namespaces/${encodeURIComponent(namespace)}/${resource}`, query, (type, object) => onEvent(type as WatchEventType, object), (error: unknown) => {
      onEnd(error && !isAbort(error) ? kubeError(error, attempt, this) : null);
    });
  }

  /**
   * Streams a container's log into `sink` until the container ends (or the controller aborts it).
   * The library never calls the `done` callback of a log: its end is the end of `sink`, which it pipes.
   * Rejects with the API's answer: 400 while the container waits to start.
   */
  followLog(namespace: string, pod: string, container: string, sink: Writable): Promise<AbortController> {
    const log = new this.lib.Log(this.config);
    return this.call({ verb: 'get', resource: 'pods/log', namespace, name: pod }, () => log.log(namespace, pod, container, sink, { follow: true }), false);
  }

  /** The container's whole log as it stands (the kubelet's current file: at most ~10 MiB by default). */
  readLog(namespace: string, pod: string, container: string): Promise<string> {
    return this.call({ verb: 'get', resource: 'pods/log', namespace, name: pod }, (options) => this.core.readNamespacedPodLog({ name: pod, namespace, container }, options));
  }

  /** Per-request options that abort the request after timeoutMs (the library's signal, set by a middleware). */
  private bounded(): Options {
    const { Observable } = this.lib;
    const signal = AbortSignal.timeout(this.timeoutMs);
    return {
      middleware: [
        {
          pre: (context) => {
            context.setSignal(signal as Parameters<typeof context.setSignal>[0]);
            return new Observable(Promise.resolve(context));
          },
          post: (response) => new Observable(Promise.resolve(response)),
        },
      ],
      middlewareMergeStrategy: 'append',
    };
  }

  /** `bound`: false for a follow, which lasts as long as the container. */
  private async call<T>(attempt: Attempt, request: (options: Options | undefined) => Promise<T>, bound = true): Promise<T> {
    try {
      return await request(bound ? this.bounded() : undefined);
    } catch (error) {
      throw this.failure(error, attempt);
    }
  }

  private async absentOk(attempt: Attempt, request: (options: Options) => Promise<unknown>): Promise<boolean> {
    try {
      await request(this.bounded());
      return true;
    } catch (error) {
      if (apiStatus(error)?.code === 404) return false;
      throw this.failure(error, attempt);
    }
  }

  private failure(error: unknown, attempt: Attempt): FractaError {
    if (!timedOut(error)) return kubeError(error, attempt, this);
    const context = this.context === null ? 'the in-cluster service account' : `context "${this.context}"`;
    const what = attempt.name ? `${KINDS[attempt.resource]} "${attempt.name}"` : attempt.resource;
    return new KubeError(
      'k8s_unreachable',
      `the Kubernetes API at ${this.server} (${context}) did not answer a request to ${attempt.verb} ${what} in namespace "${attempt.namespace}" within ${this.timeoutMs / 1000} s (kubernetes.request_timeout_s): check that the cluster is up (kubectl get --raw /readyz), or raise the bound`,
    );
  }
}

type Options = NonNullable<Parameters<CoreV1Api['listNamespacedPod']>[1]>;

/** The request was aborted by its bound (fetch rejects with the signal's TimeoutError, or an AbortError wrapping it). */
function timedOut(error: unknown): boolean {
  for (let current: any = error, depth = 0; current && depth < 4; current = current.cause, depth++) {
    if (current.name === 'TimeoutError' || current.name === 'AbortError' || current.type === 'aborted') return true;
  }
  return false;
}

interface ApiStatus {
  readonly code: number;
  readonly reason: string | undefined;
  readonly message: string | undefined;
  readonly kind: string | undefined;
  readonly causes: ReadonlyArray<{ field?: string; message?: string; reason?: string }>;
}

/**
 * The Status of an API error. The client's ApiException carries the response body as a raw JSON
 * string (parsed here); a watch that fails carries only `statusCode`.
 */
export function apiStatus(error: unknown): ApiStatus | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as { code?: unknown; statusCode?: unknown; body?: unknown };
  const code = typeof record.code === 'number' ? record.code : typeof record.statusCode === 'number' ? record.statusCode : undefined;
  if (code === undefined) return undefined;
  let body: any = record.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = { message: body.trim() || undefined };
    }
  }
  const details = body?.details;
  return {
    code,
    reason: typeof body?.reason === 'string' ? body.reason : undefined,
    message: typeof body?.message === 'string' ? body.message : undefined,
    kind: typeof details?.kind === 'string' ? details.kind : undefined,
    causes: Array.isArray(details?.causes) ? details.causes : [],
  };
}

/** Failures below HTTP: nothing answered at that address, or not with a certificate fracta trusts. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EPROTO']);
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL/;

function networkCode(error: unknown): string | undefined {
  for (let current: any = error, depth = 0; current && depth < 4; current = current.cause, depth++) {
    const code = typeof current.code === 'string' ? current.code : undefined;
    if (code && (NETWORK_CODES.has(code) || TLS_CODE.test(code))) return code;
    if (current.name === 'FetchError' && current.type === 'system') return code ?? 'connection failed';
  }
  return undefined;
}

function isAbort(error: unknown): boolean {
  return typeof error === 'object' && error !== null && ((error as Error).name === 'AbortError' || (error as { type?: string }).type === 'aborted');
}

const GROUPS: Record<Resource, string> = { secrets: '', jobs: 'batch', pods: '', 'pods/log': '' };
const KINDS: Record<Resource, string> = { secrets: 'Secret', jobs: 'Job', pods: 'Pod', 'pods/log': 'pod log' };

function rbacSummary(): string {
  return RBAC_RULES.map((rule) => `${rule.resource}: ${rule.verbs.join(', ')}`).join('; ');
}

/** A failed request as a FractaError that says what fracta tried, what the API said and what to do. */
export function kubeError(error: unknown, attempt: Attempt, target: Target): FractaError {
  if (error instanceof FractaError) return error;
  const status = apiStatus(error);
  const fail = (code: ConstructorParameters<typeof FractaError>[0], message: string) => new KubeError(code, message, status?.code);
  const where = `namespace "${attempt.namespace}"`;
  const what = attempt.name ? `${KINDS[attempt.resource]} "${attempt.name}"` : attempt.resource;
  const context = target.context === null ? 'the in-cluster service account' : `context "${target.context}"`;
  const network = networkCode(error);
  if (network) {
    const tls = TLS_CODE.test(network);
    return fail(
      'k8s_unreachable',
      `cannot reach the Kubernetes API at ${target.server} (${context}): ${network}: ${(error as Error).message}; ` +
        (tls
          ? "the server's certificate is not trusted: check the cluster's certificate-authority in the kubeconfig"
          : 'check that the cluster is running and that the kubeconfig and context point at it'),
    );
  }
  if (!status) {
    const message = error instanceof Error ? error.message : String(error);
    return fail('k8s_error', `Kubernetes request to ${attempt.verb} ${what} in ${where} failed: ${message}`);
  }
  // An ApiException's own message is `HTTP-Code: ...\nMessage: ...\nBody: ...`; a failed watch's, the status text.
  const text = error instanceof Error ? error.message : '';
  const said = status.message ?? text.split('\n').find((line) => line.startsWith('Message: '))?.slice(9) ?? (text || 'no message');
  const group = GROUPS[attempt.resource];
  switch (status.code) {
    case 403:
      return fail(
        'k8s_forbidden',
        `Kubernetes refused to ${attempt.verb} ${attempt.resource} in ${where} (403 Forbidden: ${said}); ` +
          `the identity of ${context} needs the verb "${attempt.verb}" on "${attempt.resource}" in API group "${group}": ` +
          `apply ${RBAC_DOC}, a Role and RoleBinding with every verb fracta uses (${rbacSummary()})`,
      );
    case 409: {
      const collision = attempt.runId
        ? `a Job for run id "${attempt.runId}" already exists: the run id was used before (a run-id collision)`
        : 'an object of that name already exists';
      return fail(
        'k8s_conflict',
        `${what} already exists in ${where} (409 ${status.reason ?? 'AlreadyExists'}): ${collision}; ` +
          `delete the earlier run's Job (kubectl -n ${attempt.namespace} delete job ${attempt.name?.replace(/-input$/, '') ?? '<name>'} --cascade=background) or start the run under a new id`,
      );
    }
    case 422: {
      const fields = status.causes.length > 0 ? status.causes.map((cause) => `${cause.field ?? '(object)'}: ${cause.message ?? cause.reason ?? 'invalid'}`).join('; ') : said;
      return fail(
        'k8s_invalid',
        `Kubernetes refused ${what} in ${where} as invalid (422): ${fields}; fix the runtime's kubernetes: block in fracta.yaml where the field comes from it`,
      );
    }
    case 401:
      return fail('k8s_error', `Kubernetes did not accept the credentials of ${context} at ${target.server} (401 Unauthorized): refresh them in the kubeconfig`);
    case 404:
      if (status.kind === 'namespaces') {
        return fail('k8s_error', `Kubernetes has no ${where} (404: ${said}): create it or fix kubernetes.namespace for the runtime`);
      }
      return fail('k8s_error', `Kubernetes has no ${what} in ${where} (404: ${said})`);
    default:
      return fail('k8s_error', `Kubernetes answered ${status.code}${status.reason ? ` ${status.reason}` : ''} to ${attempt.verb} ${what} in ${where}: ${said}`);
  }
}

function expandHome(file: string): string {
  if (file === '~') return os.homedir();
  if (file.startsWith('~/')) return path.join(os.homedir(), file.slice(2));
  return path.resolve(file);
}
