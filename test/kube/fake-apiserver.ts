/**
 * A fake Kubernetes API server on 127.0.0.1 for the real @kubernetes/client-node: node:http only,
 * modelling what fracta relies on as the real one behaves (the cluster behind it: fake-cluster.ts).
 *
 *   secrets  POST, GET, PATCH (JSON patch, merge patch, strategic merge patch), DELETE
 *   jobs     POST (validated: 422 with causes; 409 when the name exists), GET, list, watch, DELETE
 *   pods     GET, list, watch; created by the Job controller as `<job>-<5 chars>`
 *   pods/log 400 while the container waits to start; whole log; `follow=true` as a chunked stream
 *
 * Faithful where clients go wrong: a Job's DELETE orphans its pods unless told otherwise (batch/v1's
 * default); a DELETE with a body takes its options from the body alone and ignores the query; watch
 * events are JSON lines, sometimes cut across two writes; log writes are passed on as the container
 * made them (mid-line, mid-character); errors are `Status` objects. Every request is recorded with
 * its parsed body so a test can assert exactly what the client sent.
 */
import http from 'node:http';
import { listenOnLoopback, later } from '../model-server/loopback.js';
import { ClusterState, type PodScript, type Propagation, type Resource, type Transition, type WatchEvent } from './fake-cluster.js';
import { alreadyExists, forbidden, invalid, jobCauses, secretCauses, uid, jsonPatch, KINDS, matchesFields, matchesLabels, mergePatch, notFound, statusFailure, success, type Cause, type Obj } from './fake-objects.js';

export type { PodScript } from './fake-cluster.js';

export interface RecordedRequest {
  /** Position among requests and pod transitions. */
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly contentType: string | undefined;
  /** Parsed JSON; the raw text when it is not JSON; undefined when the request had no body. */
  readonly body: any;
  readonly rawBody: string;
  readonly verb: string;
  readonly resource: string;
  /** The HTTP status the fake answered with. */
  status: number;
}

export interface Refusal {
  readonly verb: string;
  readonly resource: string;
  readonly code: number;
  /** For 422: the causes (one about the container image unless given). */
  readonly causes?: Cause[];
  /** Only in this namespace (any, when absent). */
  readonly namespace?: string;
  times: number;
}

export interface FakeCluster {
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly transitions: Transition[];
  readonly state: ClusterState;
  /** How the pod of the next Job created behaves (in order, one script per Job). */
  script(script: PodScript): void;
  /** Answers the next `times` requests of this verb on this resource with this HTTP error. */
  refuse(verb: string, resource: string, code: number, options?: { times?: number; causes?: Cause[]; namespace?: string }): void;
  /** Stores an object as if someone else had created it (a Secret a runtime references, a Job of another tool). */
  seed(resource: Resource, object: Obj): Obj;
  objects(resource: Resource, namespace?: string): Obj[];
  /** Resolves once no watch or log stream is open (every client went away). */
  idle(): Promise<void>;
  /** Resolves with the first request (past or future) that matches. */
  waitForRequest(match: (request: RecordedRequest) => boolean): Promise<RecordedRequest>;
  close(): Promise<void>;
}

/** As the API server calls the identity it refuses (a service account, as in a cluster). */
export const FAKE_USER = 'system:serviceaccount:fracta:fracta-runner';

const PATH = /^\/(?:api\/v1|apis\/batch\/v1)\/namespaces\/([^/]+)\/(secrets|jobs|pods)(?:\/([^/]+))?(?:\/(log))?$/;

export async function startFakeCluster(): Promise<FakeCluster> {
  const timers = new Set<NodeJS.Timeout>();
  const open = new Set<http.ServerResponse>();
  const requests: RecordedRequest[] = [];
  const refusals: Refusal[] = [];
  const waiters = new Set<{ match: (request: RecordedRequest) => boolean; resolve: (request: RecordedRequest) => void }>();
  const idleWaiters = new Set<() => void>();
  let seq = 0;
  const state = new ClusterState(timers, () => ++seq);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: any;
      if (rawBody.length > 0) {
        try {
          body = JSON.parse(rawBody);
        } catch {
          body = rawBody;
        }
      }
      const match = PATH.exec(url.pathname);
      const query = Object.fromEntries(url.searchParams);
      const named = match?.[3] !== undefined;
      const resource = match ? (match[4] ? 'pods/log' : match[2]!) : '';
      const request: RecordedRequest = {
        seq: ++seq,
        method: req.method ?? 'GET',
        path: url.pathname,
        query,
        contentType: req.headers['content-type'],
        body,
        rawBody,
        verb: verbOf(req.method ?? 'GET', named, query),
        resource,
        status: 0,
      };
      requests.push(request);
      handle(request, url, res);
      // Waiters see the request with the status it was answered with.
      for (const waiter of waiters) {
        if (waiter.match(request)) {
          waiters.delete(waiter);
          waiter.resolve(request);
        }
      }
    });
  });

  function handle(request: RecordedRequest, url: URL, res: http.ServerResponse): void {
    const { query, body } = request;
    const match = PATH.exec(url.pathname);
    const name = match?.[3] !== undefined ? decodeURIComponent(match[3]) : undefined;
    const resource = request.resource;
    const reply = (status: number, payload: unknown) => {
      request.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (!match) return reply(404, statusFailure(404, 'NotFound', 'the server could not find the requested resource'));
    const namespace = decodeURIComponent(match[1]!);
    const refusal = refusals.find((entry) => entry.times > 0 && entry.verb === request.verb && entry.resource === resource && (entry.namespace === undefined || entry.namespace === namespace));
    if (refusal) {
      refusal.times -= 1;
      return reply(refusal.code, refused(refusal, resource, namespace, name ?? (body as Obj | undefined)?.['metadata']?.name));
    }
    const context: Context = { request, namespace, name, query, body, reply, res };
    if (resource === 'pods/log') return serveLog(context);
    return route(resource as Resource, context);
  }

  interface Context {
    readonly request: RecordedRequest;
    readonly namespace: string;
    readonly name: string | undefined;
    readonly query: Record<string, string>;
    readonly body: any;
    readonly reply: (status: number, payload: unknown) => void;
    readonly res: http.ServerResponse;
  }

  function route(resource: Resource, { request, namespace, name, query, body, reply, res }: Context): void {
    const kind = KINDS[resource];
    const existing = name === undefined ? undefined : state.get(resource, namespace, name);
    switch (request.verb) {
      case 'watch':
        return serveWatch(resource, namespace, query, request, res);
      case 'list': {
        const items = state
          .list(resource, namespace)
          .filter((object) => matchesLabels(query['labelSelector'], object['metadata'].labels) && matchesFields(query['fieldSelector'], object))
          .map(({ kind: _kind, apiVersion: _apiVersion, ...rest }) => rest);
        return reply(200, { kind: `${kind.kind}List`, apiVersion: kind.group ? `${kind.group}/v1` : 'v1', metadata: { resourceVersion: String(state.resourceVersion) }, items });
      }
      case 'get':
        return existing ? reply(200, existing) : reply(404, notFound(kind, name!));
      case 'create': {
        if (resource === 'pods') return reply(405, statusFailure(405, 'MethodNotAllowed', 'pods are created by the Job controller in this fake'));
        if (typeof body !== 'object' || body === null) return reply(400, statusFailure(400, 'BadRequest', 'the body of the request was in an unknown format'));
        if (body.metadata?.namespace && body.metadata.namespace !== namespace) {
          return reply(400, statusFailure(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
        }
        const objectName = String(body.metadata?.name ?? '');
        const causes = resource === 'jobs' ? jobCauses(body) : secretCauses(body);
        if (causes.length > 0) return reply(422, invalid(kind, objectName, causes));
        if (state.get(resource, namespace, objectName)) return reply(409, alreadyExists(kind, objectName));
        const object = structuredClone(body) as Obj;
        object['metadata'] = { ...object['metadata'], namespace };
        if (resource === 'secrets') {
          // stringData is write-only: the API server folds it into data.
          const data: Record<string, string> = { ...object['data'] };
          for (const [field, value] of Object.entries((object['stringData'] ?? {}) as Record<string, string>)) data[field] = Buffer.from(value).toString('base64');
          delete object['stringData'];
          object['data'] = data;
          Object.assign(object['metadata'], { uid: uid(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
          return reply(201, state.put('secrets', object, 'ADDED'));
        }
        return reply(201, state.createJob(object));
      }
      case 'patch': {
        if (!existing) return reply(404, notFound(kind, name!));
        const type = (request.contentType ?? '').split(';')[0]!.trim();
        let patched: Obj;
        try {
          if (type === 'application/json-patch+json') patched = jsonPatch(existing, body);
          else if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') patched = mergePatch(existing, body) as Obj;
          else {
            return reply(415, statusFailure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`));
          }
        } catch (error) {
          return reply(422, statusFailure(422, 'Invalid', (error as Error).message));
        }
        if (existing['immutable'] === true && JSON.stringify(patched['data']) !== JSON.stringify(existing['data'])) {
          return reply(422, invalid(kind, name!, [{ field: 'data', message: 'Forbidden: field is immutable when `immutable` is set', reason: 'FieldValueForbidden' }]));
        }
        return reply(200, state.put(resource, patched, 'MODIFIED'));
      }
      case 'delete': {
        if (!existing) return reply(404, notFound(kind, name!));
        // The API server reads DeleteOptions from a body when there is one, and only then from the query.
        const options: Obj = body !== undefined ? (typeof body === 'object' && body !== null ? body : {}) : query;
        const policy = propagation(options, resource);
        if (resource === 'jobs') state.deleteJob(existing, policy);
        else if (resource === 'pods') state.killPod(namespace, name!);
        else state.put(resource, existing, 'DELETED');
        return reply(200, success(kind, name!, existing['metadata'].uid));
      }
      default:
        return reply(405, statusFailure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
    }
  }

  /** A watch: the events since the given resourceVersion (all objects as ADDED without one), then live ones. */
  function serveWatch(resource: Resource, namespace: string, query: Record<string, string>, request: RecordedRequest, res: http.ServerResponse): void {
    request.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const out = new Outlet(res, timers, open, onClosed);
    const matches = (event: WatchEvent) =>
      event.resource === resource &&
      event.object['metadata'].namespace === namespace &&
      matchesLabels(query['labelSelector'], event.object['metadata'].labels) &&
      matchesFields(query['fieldSelector'], event.object);
    let cut = false;
    const send = (event: WatchEvent) => {
      // Every other event is cut in two writes a moment apart: a client must join lines across reads.
      cut = !cut;
      out.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`, cut);
    };
    const since = Number(query['resourceVersion'] ?? '0');
    if (since > 0) state.history.filter((event) => event.rv > since && matches(event)).forEach(send);
    else for (const object of state.list(resource, namespace)) if (matches({ resource, type: 'ADDED', object, rv: 0 })) send({ resource, type: 'ADDED', object, rv: 0 });
    const listener = (event: WatchEvent) => {
      if (matches(event)) send(event);
    };
    state.listeners.add(listener);
    res.on('close', () => state.listeners.delete(listener));
    if (query['timeoutSeconds']) later(timers, Number(query['timeoutSeconds']) * 1000, () => out.end());
  }

  function serveLog({ request, namespace, name, query, reply, res }: Context): void {
    const pod = state.get('pods', namespace, name!);
    if (!pod) return reply(404, notFound(KINDS.pods, name!));
    const container = query['container'] ?? pod['spec'].containers[0].name;
    const status = (pod['status'].containerStatuses as Obj[]).find((entry) => entry['name'] === container);
    if (!status) return reply(400, statusFailure(400, 'BadRequest', `container ${container} is not valid for pod ${name}`));
    const log = state.logs.get(`${namespace}/${name}`)!;
    const waiting = status['state'].waiting as Obj | undefined;
    const lagging = log.runningAt !== undefined && Date.now() - log.runningAt < (log.script.logLagMs ?? 0);
    if (waiting || lagging) {
      const why = waiting?.['reason'] === 'ErrImagePull' || waiting?.['reason'] === 'ImagePullBackOff' ? 'trying and failing to pull image' : (waiting?.['reason'] ?? 'ContainerCreating');
      return reply(400, statusFailure(400, 'BadRequest', `container "${container}" in pod "${name}" is waiting to start: ${why}`));
    }
    request.status = 200;
    if (query['follow'] !== 'true') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(Buffer.concat(log.chunks));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const out = new Outlet(res, timers, open, onClosed);
    const total = log.script.logChunks?.length ?? 0;
    const stopAt = total - (log.script.dropTail ?? 0);
    let sent = 0;
    const pump = () => {
      while (sent < log.chunks.length && sent < stopAt) out.write(log.chunks[sent++]!, false);
      if (log.done || (log.script.dropTail && sent >= stopAt)) {
        log.listeners.delete(pump);
        out.end();
      }
    };
    log.listeners.add(pump);
    res.on('close', () => log.listeners.delete(pump));
    pump();
  }

  function onClosed(): void {
    if (open.size > 0) return;
    for (const resolve of idleWaiters) resolve();
    idleWaiters.clear();
  }

  function refused(refusal: Refusal, resource: string, namespace: string, name: string | undefined): Obj {
    const kind = resource === 'pods/log' ? { ...KINDS.pods, resource: 'pods/log', qualified: 'pods "log"' } : KINDS[resource as Resource];
    switch (refusal.code) {
      case 403:
        return forbidden(kind, refusal.verb, namespace, FAKE_USER, refusal.verb === 'create' ? undefined : name);
      case 409:
        return alreadyExists(kind, name ?? '');
      case 422:
        return invalid(kind, name ?? '', refusal.causes ?? [{ field: 'spec.template.spec.containers[0].image', message: 'Required value', reason: 'FieldValueRequired' }]);
      case 404:
        return notFound(kind, name ?? '');
      default:
        return statusFailure(refusal.code, refusal.code === 503 ? 'ServiceUnavailable' : 'InternalError', `an error on the server ("injected ${refusal.code}") has prevented the request from succeeding`);
    }
  }

  const loopback = await listenOnLoopback(server, timers);
  return {
    url: loopback.url,
    requests,
    transitions: state.transitions,
    state,
    script: (script) => state.script(script),
    refuse(verb, resource, code, options = {}) {
      refusals.push({ verb, resource, code, times: options.times ?? 1, ...(options.causes ? { causes: options.causes } : {}), ...(options.namespace ? { namespace: options.namespace } : {}) });
    },
    seed(resource, object) {
      const copy = structuredClone(object);
      copy['metadata'] = { uid: uid(), creationTimestamp: new Date().toISOString(), ...copy['metadata'] };
      if (resource === 'jobs' && !copy['status']) copy['status'] = {};
      return state.put(resource, copy, 'ADDED');
    },
    objects: (resource, namespace) => [...state.objects[resource].values()].filter((object) => namespace === undefined || object['metadata'].namespace === namespace),
    idle() {
      if (open.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.add(resolve));
    },
    waitForRequest(match) {
      const past = requests.find(match);
      if (past) return Promise.resolve(past);
      return new Promise((resolve) => waiters.add({ match, resolve }));
    },
    async close() {
      for (const res of open) res.end();
      open.clear();
      state.listeners.clear();
      await loopback.close();
    },
  };
}

function verbOf(method: string, named: boolean, query: Record<string, string>): string {
  switch (method) {
    case 'GET':
      return !named ? (query['watch'] === 'true' || query['watch'] === '1' ? 'watch' : 'list') : 'get';
    case 'POST':
      return 'create';
    case 'PATCH':
      return 'patch';
    case 'PUT':
      return 'update';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

/** batch/v1 Jobs orphan their pods by default (for compatibility); everything else is collected in the background. */
function propagation(options: Obj, resource: Resource): Propagation {
  const policy = options['propagationPolicy'];
  if (policy === 'Orphan' || policy === 'Background' || policy === 'Foreground') return policy;
  const orphan = options['orphanDependents'];
  if (orphan === true || orphan === 'true') return 'Orphan';
  if (orphan === false || orphan === 'false') return 'Background';
  return resource === 'jobs' ? 'Orphan' : 'Background';
}

/** A streamed response: writes in order, a cut one as two writes a moment apart; ended by close() too. */
class Outlet {
  private readonly queue: Array<{ data: Buffer; cut: boolean } | 'end'> = [];
  private busy = false;

  constructor(
    private readonly res: http.ServerResponse,
    private readonly timers: Set<NodeJS.Timeout>,
    open: Set<http.ServerResponse>,
    onClosed: () => void,
  ) {
    open.add(res);
    res.on('close', () => {
      open.delete(res);
      onClosed();
    });
  }

  write(data: string | Buffer, cut: boolean): void {
    this.queue.push({ data: Buffer.isBuffer(data) ? data : Buffer.from(data), cut });
    this.pump();
  }

  end(): void {
    this.queue.push('end');
    this.pump();
  }

  private pump(): void {
    while (!this.busy && this.queue.length > 0 && !this.res.writableEnded && !this.res.destroyed) {
      const next = this.queue.shift()!;
      if (next === 'end') {
        this.res.end();
        return;
      }
      if (!next.cut || next.data.length < 2) {
        this.res.write(next.data);
        continue;
      }
      const middle = Math.floor(next.data.length / 2);
      this.res.write(next.data.subarray(0, middle));
      this.busy = true;
      later(this.timers, 2, () => {
        this.busy = false;
        if (!this.res.writableEnded && !this.res.destroyed) this.res.write(next.data.subarray(middle));
        this.pump();
      });
    }
  }
}
