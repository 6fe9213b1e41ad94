/**
 * The life of one run's pod, from the first watch to `exited`: the pod followed through watches (pods
 * by the run's label, the Job by name), the container's log streamed into the run's stdout file, a
 * pod that will never start failed at once (pod-errors.ts), and a stop that waits, bounded, for the
 * pod to be gone.
 */
import fs from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { V1Job } from '@kubernetes/client-node';
import { maskSecrets } from '../../secrets.js';
import { FractaError } from '../../errors.js';
import type { Job, JobExit } from '../backend.js';
import { masked, outputFailure, splitLines, toFile, within } from '../output.js';
import { KubeError, type KubeClient, type WatchEventType } from './client.js';
import { AGENT_CONTAINER } from './manifest.js';
import { configError, IMAGE_FAILURES, imageError, type PodFacts } from './pod-errors.js';
import { RUN_ID_LABEL, type KubernetesRun } from './types.js';

export interface Timing {
  readonly logSettleMs: number;
  readonly podGoneMs: number;
}

interface Ending {
  /** Read the whole log once more and complete the streamed copy with it. */
  readonly catchUp: boolean;
  /** Done before anything else (the Job's deletion when the run fails to start). */
  readonly before?: () => Promise<unknown>;
}

/** The life of one run's pod, from the first watch to `exited`. */
export class PodRun {
  readonly exited: Promise<JobExit>;
  private resolveExit!: (exit: JobExit) => void;
  private readonly namespace: string;
  private readonly jobName: string;
  private readonly secrets: readonly string[];
  private readonly controllers = new Set<AbortController>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private ending = false;
  private terminating = false;
  /** The run's pod: the first one seen (backoffLimit 0: the Job never makes another). */
  private podName: string | undefined;
  private readonly podsAlive = new Set<string>();
  private podsGoneWaiters: Array<() => void> = [];
  private following = false;
  /** The log stream is open (the API served it): its end is worth waiting for. */
  private piped = false;
  private followEnded!: () => void;
  private readonly followDone = new Promise<void>((resolve) => (this.followEnded = resolve));
  /** The exit code of a pod that was deleted rather than ending on its own (killed at the deadline, say). */
  private killedExitCode: number | null = null;
  /** The Job has completed or failed: the pod's end must follow shortly. */
  private verdictSeen = false;

  // The pod's log mixes the container's stdout and stderr (the API serves one stream): all of it goes
  // to the stdout file and the line parser; the stderr file is created and stays empty.
  private readonly raw = new PassThrough();
  private readonly lines: PassThrough | undefined;
  private readonly stdoutStart: number;
  private streamedBytes = 0;
  private readonly written: Promise<Array<NodeJS.ErrnoException | undefined>>;

  constructor(
    private readonly kube: KubeClient,
    private readonly job: Job,
    private readonly run: KubernetesRun,
    private readonly manifest: V1Job,
    private readonly timing: Timing,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.namespace = run.config.namespace;
    this.jobName = manifest.metadata!.name!;
    this.secrets = job.secrets ?? [];
    this.stdoutStart = sizeOf(job.stdoutPath);
    const out = masked(this.raw, this.secrets)!;
    if (job.onOutput) {
      const onOutput = job.onOutput;
      this.raw.on('data', () => onOutput());
    }
    if (job.onStdoutLine) {
      const lines = new PassThrough();
      this.lines = lines;
      splitLines(lines, job.onStdoutLine);
    }
    out.on('data', (chunk: Buffer) => {
      this.streamedBytes += chunk.length;
      this.lines?.write(chunk);
    });
    this.written = Promise.all([toFile(out, job.stdoutPath), toFile(null, job.stderrPath)]);
  }

  begin(): void {
    void this.follow('pods');
    void this.follow('jobs');
  }

  /**
   * Deletes the Job (its pod and Secret go with it) and ends the run once the pod is gone. Never
   * rejects, as a local kill never does: a DELETE that fails is tried again until the pod's grace
   * has passed; after that the run ends here anyway and the Job is left to its deadline, its TTL and
   * the reconciler (listManagedJobs) to remove.
   */
  async terminate(): Promise<void> {
    if (this.ending || this.terminating) {
      await this.exited;
      return;
    }
    this.terminating = true;
    const giveUpAt = Date.now() + this.job.killGraceMs + this.timing.podGoneMs;
    let pause = 250;
    for (;;) {
      try {
        // Like a local process tree, the run is over when its pod is gone (the kubelet gives it its grace).
        // A Job already gone (404) was deleted by another fracta's cancel, with Background propagation:
        // its pod is on its way too. Either way the wait is bounded.
        await this.kube.deleteJob(this.namespace, this.jobName);
        await this.podsGone(Math.max(0, giveUpAt - Date.now()));
        break;
      } catch {
        if (this.ending || Date.now() + pause > giveUpAt) break;
        await delay(pause);
        pause = Math.min(pause * 2, 2_000);
      }
    }
    await this.finish({ exitCode: null, signal: 'SIGTERM' }, { catchUp: false });
  }

  /** List, then watch from the list's version; again whenever the watch ends, until the run ends. */
  private async follow(resource: 'pods' | 'jobs'): Promise<void> {
    let pause = 100;
    while (!this.ending) {
      try {
        const list =
          resource === 'pods'
            ? await this.kube.listPods(this.namespace, this.podSelector)
            : await this.kube.listJobs(this.namespace, { fieldSelector: this.jobSelector });
        if (this.ending) return;
        if (resource === 'pods') this.onPodList(list.items);
        else if (list.items.length === 0) this.onJob('DELETED', undefined);
        else this.onJob('MODIFIED', list.items[0]);
        const error = await this.watchOnce(resource, list.metadata?.resourceVersion);
        if (error) throw error;
        pause = 100;
      } catch (error) {
        // Without the RBAC to follow the pod, the run would never end: say so now.
        if (error instanceof FractaError && error.code === 'k8s_forbidden') {
          void this.fail(error);
          return;
        }
        // Anything else may pass (an API server restarting); the Job's deadline bounds the wait.
        pause = Math.min(pause * 2, 5_000);
      }
      if (!this.ending) await this.sleep(pause);
    }
  }

  private get podSelector(): string {
    return `${RUN_ID_LABEL}=${this.job.runId}`;
  }

  private get jobSelector(): string {
    return `metadata.name=${this.jobName}`;
  }

  /** Resolves when the watch ends: null when the server ended it, the error when it failed. */
  private watchOnce(resource: 'pods' | 'jobs', resourceVersion: string | undefined): Promise<FractaError | null> {
    return new Promise((resolve) => {
      let controller: AbortController | undefined;
      const query = {
        ...(resource === 'pods' ? { labelSelector: this.podSelector } : { fieldSelector: this.jobSelector }),
        ...(resourceVersion ? { resourceVersion } : {}),
      };
      const onEvent = (type: WatchEventType, object: any) => {
        if (type === 'ERROR') {
          // 410 Gone and the like: the version is too old; list again.
          controller?.abort();
          return;
        }
        if (resource === 'pods') this.onPod(type, object);
        else this.onJob(type, object);
      };
      this.kube
        .watch(resource, this.namespace, query, onEvent, (error) => {
          if (controller) this.controllers.delete(controller);
          resolve(error);
        })
        .then(
          (started) => {
            controller = started;
            this.track(started);
          },
          (error: unknown) => resolve(error instanceof FractaError ? error : new FractaError('k8s_error', String(error))),
        );
    });
  }

  private onPodList(pods: readonly any[]): void {
    const present = new Set(pods.map((pod) => pod?.metadata?.name as string));
    for (const name of [...this.podsAlive]) if (!present.has(name)) this.onPod('DELETED', { metadata: { name } });
    for (const pod of pods) this.onPod('MODIFIED', pod);
  }

  private onPod(type: WatchEventType, pod: any): void {
    const name: string | undefined = pod?.metadata?.name;
    if (!name) return;
    if (type === 'DELETED') {
      this.podsAlive.delete(name);
      if (this.podsAlive.size === 0) for (const wake of this.podsGoneWaiters.splice(0)) wake();
      return;
    }
    this.podsAlive.add(name);
    if (this.ending || this.terminating) return;
    this.podName ??= name;
    if (name !== this.podName) return;
    const phase: string | undefined = pod.status?.phase;
    const statuses: any[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    if (phase === 'Pending' || phase === undefined) {
      for (const status of statuses) {
        const waiting = status?.state?.waiting;
        if (!waiting?.reason) continue;
        if (waiting.reason === 'CreateContainerConfigError') return void this.fail(configError(String(waiting.message ?? ''), this.pod()));
        if (IMAGE_FAILURES.has(waiting.reason)) return void this.fail(imageError(status, waiting, this.pod()));
      }
      return;
    }
    if (phase === 'Running') return void this.followLog(name);
    if (phase === 'Succeeded' || phase === 'Failed') {
      const agent = (pod.status?.containerStatuses ?? []).find((status: any) => status?.name === AGENT_CONTAINER) ?? pod.status?.containerStatuses?.[0];
      const exitCode: number | null = agent?.state?.terminated?.exitCode ?? null;
      if (pod.metadata?.deletionTimestamp) {
        // Stopped by a deletion, not by its own exit: the Job's conditions tell why (the deadline, say).
        this.killedExitCode = exitCode;
        return;
      }
      void this.finish({ exitCode, signal: null }, { catchUp: true });
    }
  }

  private onJob(type: WatchEventType, job: any): void {
    if (this.ending || this.terminating) return;
    if (type === 'DELETED') {
      // Someone else deleted the Job (another fracta's cancel): the run is over once its pod is gone,
      // or after the bound, when the pod lives on orphaned, out of fracta's hands.
      this.terminating = true;
      void this.podsGone(this.job.killGraceMs + this.timing.podGoneMs).then(() => this.finish({ exitCode: null, signal: 'SIGTERM' }, { catchUp: false }));
      return;
    }
    const conditions: any[] = job?.status?.conditions ?? [];
    const failing = conditions.find((entry) => (entry?.type === 'FailureTarget' || entry?.type === 'Failed') && entry?.status === 'True');
    if (failing?.reason === 'DeadlineExceeded') {
      void this.finish({ exitCode: this.killedExitCode, signal: null, deadlineExceeded: true }, { catchUp: true });
      return;
    }
    const complete = conditions.some((entry) => entry?.type === 'Complete' && entry?.status === 'True');
    if ((failing?.type === 'Failed' || complete) && !this.verdictSeen) {
      this.verdictSeen = true;
      // The pod's own status carries the exit code and normally comes first; without it, the Job's verdict.
      this.later(this.timing.logSettleMs, () => void this.finish({ exitCode: complete ? 0 : this.killedExitCode, signal: null }, { catchUp: true }));
    }
  }

  /** Streams the log of the running container; retried while the API does not serve it yet (400). */
  private async followLog(pod: string): Promise<void> {
    if (this.following) return;
    this.following = true;
    let pause = 100;
    while (!this.ending) {
      try {
        const controller = await this.kube.followLog(this.namespace, pod, AGENT_CONTAINER, this.inlet());
        this.piped = true;
        this.track(controller);
        return;
      } catch (error) {
        const status = error instanceof KubeError ? error.status : undefined;
        // The pod is gone, and its log with it: what was streamed is what there is.
        if (status === 404) return this.followEnded();
        if (error instanceof FractaError && error.code === 'k8s_forbidden') return void this.fail(error);
        // 400: the container does not serve its log yet; anything else may pass too.
        await this.sleep(pause);
        pause = Math.min(pause * 2, 2_000);
      }
    }
  }

  /** Where the library pipes the log: into the run's output, its end the end of the follow. */
  private inlet(): Writable {
    const inlet = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        if (this.raw.writableEnded) return done();
        if (this.raw.write(chunk)) done();
        else this.raw.once('drain', () => done());
      },
      final: (done) => {
        this.followEnded();
        done();
      },
    });
    // A response that breaks (or is aborted) does not end what it is piped into: its error ends the follow too.
    inlet.on('pipe', (source: NodeJS.ReadableStream) => source.on('error', () => this.followEnded()));
    return inlet;
  }

  private async fail(error: FractaError): Promise<void> {
    // The Job would wait for ever: delete it (its pod and Secret go with it).
    await this.finish({ exitCode: null, signal: null, startError: error }, { catchUp: false, before: () => this.kube.deleteJob(this.namespace, this.jobName).catch(() => undefined) });
  }

  private async finish(exit: JobExit, ending: Ending): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    await ending.before?.();
    if (ending.catchUp && this.piped) await within(this.followDone, this.timing.logSettleMs);
    for (const controller of this.controllers) controller.abort();
    this.controllers.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.raw.end();
    const [writeError] = await this.written;
    if (ending.catchUp && this.podName && !writeError) await this.catchUp(this.podName).catch(() => undefined);
    if (this.lines) {
      this.lines.end();
      // The last lines reach the parser before the run is said to be over.
      await finished(this.lines).catch(() => undefined);
    }
    this.resolveExit(writeError && !exit.startError ? { ...exit, outputError: outputFailure(writeError, this.job.stdoutPath) } : exit);
  }

  /**
   * A follow stream can end before the container's last writes: the whole log, read once more,
   * replaces the streamed copy when it is longer, and its extra tail reaches the line parser.
   */
  private async catchUp(pod: string): Promise<void> {
    let full: Buffer;
    try {
      full = Buffer.from(maskSecrets(await this.kube.readLog(this.namespace, pod, AGENT_CONTAINER), this.secrets));
    } catch {
      return; // The pod is gone (deadline, TTL): the streamed copy is what there is.
    }
    if (full.length <= this.streamedBytes) return;
    const path = this.job.stdoutPath;
    const streamed = await readRange(path, this.stdoutStart, this.streamedBytes);
    // Earlier turns of the run, if any, stay in the file; only this pod's part is replaced.
    await fs.promises.truncate(path, this.stdoutStart);
    await fs.promises.appendFile(path, full);
    if (this.lines && full.subarray(0, streamed.length).equals(streamed)) this.lines.write(full.subarray(streamed.length));
  }

  /** What the kubelet's messages are read against. */
  private pod(): PodFacts {
    return { runId: this.job.runId, namespace: this.namespace, runtime: this.run.runtime, image: this.run.config.image, manifest: this.manifest };
  }

  private podsGone(timeoutMs: number): Promise<void> {
    if (this.podsAlive.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.podsGoneWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private track(controller: AbortController): void {
    if (this.ending) controller.abort();
    else this.controllers.add(controller);
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.later(ms, resolve));
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

async function readRange(file: string, start: number, length: number): Promise<Buffer> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

