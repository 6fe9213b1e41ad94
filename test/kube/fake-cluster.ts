/**
 * What stands behind the fake API server (fake-apiserver.ts): the stored objects with resource
 * versions and a history of watch events, the Job controller (one pod per Job, conditions, the
 * deadline), the kubelet (a scripted container per pod: pending, secrets and images checked, log
 * written in chunks, exit) and the garbage collector (what a Job's deletion does to its pods and
 * the Secrets it owns, per propagation policy).
 */
import { later } from '../model-server/loopback.js';
import {
  condition,
  containerStatuses,
  now,
  podSuffix,
  secretKeyRefs,
  terminated,
  uid,
  type ContainerState,
  type Obj,
} from './fake-objects.js';

/** How the pod of the next Job behaves. */
export interface PodScript {
  /** What the container writes, each element one write (split them mid-line or mid-character at will). */
  logChunks?: ReadonlyArray<string | Buffer>;
  exitCode?: number;
  /** Time in ContainerCreating before the container starts (5 ms unless given). */
  pendingMs?: number;
  /** Time between two writes of the container (5 ms unless given). */
  chunkDelayMs?: number;
  /** `bad`: the pull fails (ErrImagePull, then ImagePullBackOff); `invalid`: InvalidImageName. */
  image?: 'bad' | 'invalid';
  /** After its log, the Job passes its activeDeadlineSeconds: the controller fails it and kills the pod. */
  deadline?: boolean;
  /** After its log, the container keeps running until its pod is deleted. */
  hold?: boolean;
  /** A follow stream ends this many writes before the end (the whole-log read still has them). */
  dropTail?: number;
  /** For this long after the pod turns Running, the log is not served yet (400, waiting to start). */
  logLagMs?: number;
}

export type Resource = 'secrets' | 'jobs' | 'pods';
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export type Propagation = 'Orphan' | 'Background' | 'Foreground';

export interface WatchEvent {
  readonly resource: Resource;
  readonly type: EventType;
  readonly object: Obj;
  readonly rv: number;
}

export interface PodLog {
  readonly chunks: Buffer[];
  /** The container has ended: a follow stream ends once it has sent every chunk. */
  done: boolean;
  runningAt?: number;
  readonly script: PodScript;
  readonly listeners: Set<() => void>;
}

/** A pod's phase changes, numbered in the same sequence as the requests, for ordering assertions. */
export interface Transition {
  readonly seq: number;
  readonly pod: string;
  readonly phase: string;
  readonly reason?: string;
}

/** Each step of a graceful pod deletion: SIGTERM to exit, exit to removal. */
const KILL_STEP_MS = 20;

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class ClusterState {
  readonly objects: Record<Resource, Map<string, Obj>> = { secrets: new Map(), jobs: new Map(), pods: new Map() };
  readonly history: WatchEvent[] = [];
  readonly listeners = new Set<(event: WatchEvent) => void>();
  readonly logs = new Map<string, PodLog>();
  readonly transitions: Transition[] = [];
  private readonly scripts: PodScript[] = [];
  private rv = 1000;

  constructor(
    private readonly timers: Set<NodeJS.Timeout>,
    private readonly nextSeq: () => number,
  ) {}

  script(script: PodScript): void {
    this.scripts.push(script);
  }

  get(resource: Resource, namespace: string, name: string): Obj | undefined {
    return this.objects[resource].get(key(namespace, name));
  }

  list(resource: Resource, namespace: string): Obj[] {
    return [...this.objects[resource].values()].filter((object) => object['metadata'].namespace === namespace);
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** Stores the object under a new resource version and tells every watch. */
  put(resource: Resource, object: Obj, type: EventType): Obj {
    this.rv += 1;
    object['metadata'].resourceVersion = String(this.rv);
    if (type === 'DELETED') this.objects[resource].delete(key(object['metadata'].namespace, object['metadata'].name));
    else this.objects[resource].set(key(object['metadata'].namespace, object['metadata'].name), object);
    const event: WatchEvent = { resource, type, object: structuredClone(object), rv: this.rv };
    this.history.push(event);
    for (const listener of this.listeners) listener(event);
    return object;
  }

  /** The Job controller's part of a create: defaults, then a pod a moment later. */
  createJob(job: Obj): Obj {
    const id = uid();
    const meta = job['metadata'];
    Object.assign(meta, { uid: id, creationTimestamp: now(), generation: 1 });
    const controllerLabels = {
      'batch.kubernetes.io/controller-uid': id,
      'batch.kubernetes.io/job-name': meta.name,
      'controller-uid': id,
      'job-name': meta.name,
    };
    job['spec'] = {
      completions: 1,
      parallelism: 1,
      completionMode: 'NonIndexed',
      suspend: false,
      podReplacementPolicy: 'TerminatingOrFailed',
      ...job['spec'],
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': id } },
    };
    const template = job['spec'].template;
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...controllerLabels } };
    job['status'] = {};
    this.put('jobs', job, 'ADDED');
    const script = this.scripts.shift() ?? {};
    later(this.timers, 2, () => this.startPod(meta.namespace, meta.name, script));
    return job;
  }

  private startPod(namespace: string, jobName: string, script: PodScript): void {
    const job = this.get('jobs', namespace, jobName);
    if (!job) return;
    const spec = structuredClone(job['spec'].template.spec) as Obj;
    const name = `${jobName}-${podSuffix()}`;
    const pod: Obj = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name,
        generateName: `${jobName}-`,
        namespace,
        uid: uid(),
        creationTimestamp: now(),
        labels: { ...job['spec'].template.metadata.labels },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: job['metadata'].uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { ...spec, nodeName: 'fake-node', schedulerName: 'default-scheduler' },
      status: {
        phase: 'Pending',
        conditions: [condition('PodScheduled', 'True')],
        hostIP: '10.0.0.2',
        startTime: now(),
        ...(spec['initContainers'] ? { initContainerStatuses: containerStatuses(spec, { waiting: { reason: 'PodInitializing' } }, 'initContainers') } : {}),
        containerStatuses: containerStatuses(spec, { waiting: { reason: 'ContainerCreating' } }),
      },
    };
    this.logs.set(key(namespace, name), { chunks: [], done: false, script, listeners: new Set() });
    this.put('pods', pod, 'ADDED');
    this.transition(pod, 'Pending', 'ContainerCreating');
    this.updateJob(namespace, jobName, (status) => Object.assign(status, { active: 1, ready: 0, terminating: 0, startTime: now(), uncountedTerminatedPods: {} }));
    later(this.timers, script.pendingMs ?? 5, () => this.kubeletStart(namespace, name));
  }

  /** What the kubelet finds before it can start the container, as the container's waiting state. */
  private blocker(pod: Obj): { reason: string; message: string } | undefined {
    const { script } = this.logs.get(key(pod['metadata'].namespace, pod['metadata'].name))!;
    const image = pod['spec'].containers[0]?.image ?? '';
    if (script.image === 'invalid') {
      return { reason: 'InvalidImageName', message: `Failed to apply default image tag "${image}": couldn't parse image name "${image}": invalid reference format` };
    }
    if (script.image === 'bad') {
      const ref = image.includes('/') ? image : `docker.io/library/${image}${image.includes(':') ? '' : ':latest'}`;
      return {
        reason: 'ErrImagePull',
        message: `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": pull access denied, repository does not exist or may require authorization`,
      };
    }
    const namespace = pod['metadata'].namespace;
    for (const ref of secretKeyRefs(pod['spec'])) {
      if (ref.optional) continue;
      const secret = this.get('secrets', namespace, ref.name);
      if (!secret) return { reason: 'CreateContainerConfigError', message: `secret "${ref.name}" not found` };
      if (secret['data']?.[ref.key] === undefined) {
        return { reason: 'CreateContainerConfigError', message: `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}` };
      }
    }
    return undefined;
  }

  private kubeletStart(namespace: string, name: string): void {
    const pod = this.get('pods', namespace, name);
    if (!pod || pod['metadata'].deletionTimestamp) return;
    const log = this.logs.get(key(namespace, name))!;
    const blocker = this.blocker(pod);
    if (blocker) {
      // Stays Pending: the kubelet retries forever and the Job never fails on its own.
      pod['status'].containerStatuses = containerStatuses(pod['spec'], { waiting: blocker });
      this.put('pods', pod, 'MODIFIED');
      this.transition(pod, 'Pending', blocker.reason);
      if (blocker.reason === 'ErrImagePull') {
        later(this.timers, 20, () => {
          const current = this.get('pods', namespace, name);
          if (!current || current['metadata'].deletionTimestamp) return;
          const image = current['spec'].containers[0]?.image;
          current['status'].containerStatuses = containerStatuses(current['spec'], { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } });
          this.put('pods', current, 'MODIFIED');
          this.transition(current, 'Pending', 'ImagePullBackOff');
        });
      }
      return;
    }
    const startedAt = now();
    if (pod['spec'].initContainers) {
      pod['status'].initContainerStatuses = containerStatuses(pod['spec'], terminated(0, startedAt), 'initContainers');
    }
    pod['status'].phase = 'Running';
    pod['status'].podIP = '10.244.0.7';
    pod['status'].conditions = [condition('PodScheduled', 'True'), condition('Initialized', 'True'), condition('ContainersReady', 'True'), condition('Ready', 'True')];
    pod['status'].containerStatuses = containerStatuses(pod['spec'], { running: { startedAt } });
    log.runningAt = Date.now();
    this.put('pods', pod, 'MODIFIED');
    this.transition(pod, 'Running');
    this.updateJob(namespace, pod['metadata'].labels['job-name'], (status) => Object.assign(status, { ready: 1 }));
    this.writeLog(namespace, name, 0, startedAt);
  }

  private writeLog(namespace: string, name: string, index: number, startedAt: string): void {
    const pod = this.get('pods', namespace, name);
    const log = this.logs.get(key(namespace, name))!;
    if (!pod || pod['metadata'].deletionTimestamp || log.done) return;
    const chunks = log.script.logChunks ?? [];
    if (index < chunks.length) {
      const chunk = chunks[index]!;
      log.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      for (const listener of log.listeners) listener();
      later(this.timers, log.script.chunkDelayMs ?? 5, () => this.writeLog(namespace, name, index + 1, startedAt));
      return;
    }
    if (log.script.hold) return;
    const jobName = pod['metadata'].labels['job-name'];
    if (log.script.deadline) {
      // As the Job controller does since 1.31: FailureTarget first, the pods killed, Failed once they are gone.
      const reason = 'DeadlineExceeded';
      const message = 'Job was active longer than specified deadline';
      this.updateJob(namespace, jobName, (status) => {
        status.conditions = [condition('FailureTarget', 'True', reason, message)];
      });
      this.killPod(namespace, name, () =>
        this.updateJob(namespace, jobName, (status) => {
          Object.assign(status, { active: 0, ready: 0, failed: 1 });
          status.conditions = [...(status.conditions ?? []), condition('Failed', 'True', reason, message)];
        }),
      );
      return;
    }
    const exitCode = log.script.exitCode ?? 0;
    pod['status'].phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    pod['status'].conditions = pod['status'].conditions.map((entry: Obj) =>
      entry['type'] === 'Ready' || entry['type'] === 'ContainersReady' ? { ...entry, status: 'False', reason: 'PodCompleted' } : entry,
    );
    pod['status'].containerStatuses = containerStatuses(pod['spec'], terminated(exitCode, startedAt));
    this.endLog(namespace, name);
    this.put('pods', pod, 'MODIFIED');
    this.transition(pod, pod['status'].phase, exitCode === 0 ? 'Completed' : 'Error');
    this.updateJob(namespace, jobName, (status) => {
      const time = now();
      if (exitCode === 0) {
        Object.assign(status, { active: 0, ready: 0, succeeded: 1, completionTime: time });
        status.conditions = [condition('SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods'), condition('Complete', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods')];
      } else {
        Object.assign(status, { active: 0, ready: 0, failed: 1 });
        status.conditions = [condition('FailureTarget', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'), condition('Failed', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')];
      }
    });
  }

  private endLog(namespace: string, name: string): void {
    const log = this.logs.get(key(namespace, name));
    if (!log || log.done) return;
    log.done = true;
    for (const listener of log.listeners) listener();
  }

  /** A graceful pod deletion: marked, the container stopped by SIGTERM (143), then the object removed. */
  killPod(namespace: string, name: string, afterwards?: () => void): void {
    const pod = this.get('pods', namespace, name);
    if (!pod || pod['metadata'].deletionTimestamp) return;
    pod['metadata'].deletionTimestamp = now();
    pod['metadata'].deletionGracePeriodSeconds = pod['spec'].terminationGracePeriodSeconds ?? 30;
    this.put('pods', pod, 'MODIFIED');
    // The container takes a moment to act on SIGTERM, and the kubelet another to report and remove the pod.
    later(this.timers, KILL_STEP_MS, () => {
      const running = pod['status'].containerStatuses?.[0]?.state?.running as { startedAt: string } | undefined;
      if (running) {
        pod['status'].phase = 'Failed';
        pod['status'].containerStatuses = containerStatuses(pod['spec'], terminated(143, running.startedAt) as ContainerState);
        this.put('pods', pod, 'MODIFIED');
        this.transition(pod, 'Failed', 'Error');
      }
      this.endLog(namespace, name);
      later(this.timers, KILL_STEP_MS, () => {
        this.put('pods', pod, 'DELETED');
        this.transition(pod, 'Deleted');
        afterwards?.();
      });
    });
  }

  /** The API server's part of a Job's deletion, then the garbage collector's part for its dependents. */
  deleteJob(job: Obj, policy: Propagation): void {
    const { namespace, uid: owner } = job['metadata'];
    job['metadata'].deletionTimestamp = now();
    const dependents = (['pods', 'secrets'] as const).flatMap((resource) =>
      this.list(resource, namespace)
        .filter((object) => (object['metadata'].ownerReferences ?? []).some((ref: Obj) => ref['uid'] === owner))
        .map((object) => ({ resource, object })),
    );
    if (policy === 'Orphan') {
      this.put('jobs', job, 'DELETED');
      for (const { resource, object } of dependents) {
        object['metadata'].ownerReferences = object['metadata'].ownerReferences.filter((ref: Obj) => ref['uid'] !== owner);
        if (object['metadata'].ownerReferences.length === 0) delete object['metadata'].ownerReferences;
        this.put(resource, object, 'MODIFIED');
      }
      return;
    }
    if (policy === 'Background') this.put('jobs', job, 'DELETED');
    let pending = dependents.length;
    const oneGone = () => {
      pending -= 1;
      if (pending === 0 && policy === 'Foreground') this.put('jobs', job, 'DELETED');
    };
    if (pending === 0 && policy === 'Foreground') this.put('jobs', job, 'DELETED');
    // The collector works asynchronously: the dependents go a moment after the owner.
    later(this.timers, 2, () => {
      for (const { resource, object } of dependents) {
        const { namespace: ns, name } = object['metadata'];
        if (resource === 'pods') this.killPod(ns, name, oneGone);
        else {
          if (this.get(resource, ns, name)) this.put(resource, object, 'DELETED');
          oneGone();
        }
      }
    });
  }

  private updateJob(namespace: string, name: string, change: (status: Obj) => void): void {
    const job = this.get('jobs', namespace, name);
    if (!job) return;
    change(job['status']);
    this.put('jobs', job, 'MODIFIED');
  }

  private transition(pod: Obj, phase: string, reason?: string): void {
    this.transitions.push({ seq: this.nextSeq(), pod: pod['metadata'].name, phase, ...(reason ? { reason } : {}) });
  }
}
