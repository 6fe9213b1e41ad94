/**
 * The shapes a real API server answers with, for the fake in fake-apiserver.ts: Status errors, label
 * and field selectors, patches by content type, and the status of pods and Jobs at each step of a run.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export type Obj = Record<string, any>;

export interface Kind {
  /** The resource as a URL and an RBAC rule name it: `jobs`. */
  readonly resource: string;
  /** As Status details and error messages name it: `jobs.batch`, `secrets`. */
  readonly qualified: string;
  readonly group: string;
  readonly kind: string;
}

export const KINDS = {
  secrets: { resource: 'secrets', qualified: 'secrets', group: '', kind: 'Secret' },
  pods: { resource: 'pods', qualified: 'pods', group: '', kind: 'Pod' },
  jobs: { resource: 'jobs', qualified: 'jobs.batch', group: 'batch', kind: 'Job' },
} as const satisfies Record<string, Kind>;

export interface Cause {
  readonly field: string;
  readonly message: string;
  readonly reason: string;
}

/** A `Status` failure exactly as the API server sends it (metav1.Status). */
export function statusFailure(code: number, reason: string, message: string, details?: { name?: string; kind?: Kind; causes?: Cause[] }): Obj {
  const status: Obj = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) {
    status['details'] = {
      ...(details.name !== undefined ? { name: details.name } : {}),
      ...(details.kind ? { group: details.kind.group || undefined, kind: details.kind.resource } : {}),
      ...(details.causes ? { causes: details.causes } : {}),
    };
  }
  return status;
}

export function notFound(kind: Kind, name: string): Obj {
  return statusFailure(404, 'NotFound', `${kind.qualified} "${name}" not found`, { name, kind });
}

export function alreadyExists(kind: Kind, name: string): Obj {
  return statusFailure(409, 'AlreadyExists', `${kind.qualified} "${name}" already exists`, { name, kind });
}

/** 422 as the API server words it: `Job.batch "x" is invalid: [field: message, ...]`. */
export function invalid(kind: Kind, name: string, causes: Cause[]): Obj {
  const qualified = kind.group ? `${kind.kind}.${kind.group}` : kind.kind;
  const list = causes.map((cause) => `${cause.field}: ${cause.message}`);
  const text = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  // The API server's details.kind is the Kind here, not the resource.
  const status = statusFailure(422, 'Invalid', `${qualified} "${name}" is invalid: ${text}`, { name, causes });
  status['details'] = { name, group: kind.group || undefined, kind: kind.kind, causes };
  return status;
}

export function forbidden(kind: Kind, verb: string, namespace: string, user: string, name?: string): Obj {
  const what = kind.group ? `resource "${kind.resource}" in API group "${kind.group}"` : `resource "${kind.resource}" in API group ""`;
  const subject = name === undefined ? kind.qualified : `${kind.qualified} "${name}"`;
  return statusFailure(403, 'Forbidden', `${subject} is forbidden: User "${user}" cannot ${verb} ${what} in the namespace "${namespace}"`, {
    ...(name !== undefined ? { name } : {}),
    kind,
  });
}

export function success(kind: Kind, name: string, uid: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: kind.group || undefined, kind: kind.resource, uid } };
}

/** An equality-based label selector (`a=b,c!=d,e`), which is all fracta sends. */
export function matchesLabels(selector: string | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const not = term.split('!=');
    if (not.length === 2) return labels?.[not[0]!.trim()] !== not[1]!.trim();
    const eq = term.split(/==?/);
    if (eq.length === 2) return labels?.[eq[0]!.trim()] === eq[1]!.trim();
    return labels?.[term.trim()] !== undefined;
  });
}

/** The field selectors every resource supports: metadata.name and metadata.namespace. */
export function matchesFields(selector: string | undefined, object: Obj): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [field, value] = term.split(/==?/) as [string, string];
    const actual = field === 'metadata.name' ? object['metadata']?.name : field === 'metadata.namespace' ? object['metadata']?.namespace : undefined;
    return actual === value;
  });
}

/** RFC 7386 JSON merge patch (strategic merge is the same for the fields fracta patches). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Obj = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Obj) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** RFC 6902 JSON patch: add, replace, remove and test on object members and array indexes. */
export function jsonPatch(target: Obj, operations: unknown): Obj {
  if (!Array.isArray(operations)) throw new Error('a JSON patch must be a list of operations');
  const result = structuredClone(target);
  for (const operation of operations as Obj[]) {
    const parts = String(operation['path'] ?? '').split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (last === undefined) throw new Error(`patch path "${operation['path']}" names no member`);
    let parent: any = result;
    for (const part of parts) {
      parent = parent?.[part];
      if (parent === undefined) throw new Error(`doc is missing path: "${operation['path']}"`);
    }
    const key = Array.isArray(parent) && last !== '-' ? Number(last) : last;
    switch (operation['op']) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : (key as number), 0, operation['value']);
        else parent[key] = operation['value'];
        break;
      case 'replace':
        if (parent[key] === undefined) throw new Error(`replace operation does not apply: doc is missing key: "${operation['path']}"`);
        parent[key] = operation['value'];
        break;
      case 'remove':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key];
        break;
      case 'test':
        if (JSON.stringify(parent[key]) !== JSON.stringify(operation['value'])) throw new Error(`testing value ${operation['path']} failed`);
        break;
      default:
        throw new Error(`unsupported JSON patch operation "${operation['op']}"`);
    }
  }
  return result;
}

export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export function uid(): string {
  return randomUUID();
}

/** The suffix the Job controller gives a pod: five characters of the API server's alphabet. */
export function podSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

/** Every secretKeyRef of the pod's containers, init containers first (the kubelet starts them first). */
export function secretKeyRefs(podSpec: Obj): Array<{ container: string; name: string; key: string; optional: boolean }> {
  const containers: Obj[] = [...(podSpec['initContainers'] ?? []), ...(podSpec['containers'] ?? [])];
  return containers.flatMap((container) =>
    ((container['env'] ?? []) as Obj[])
      .filter((entry) => entry['valueFrom']?.secretKeyRef)
      .map((entry) => {
        const ref = entry['valueFrom'].secretKeyRef as Obj;
        return { container: String(container['name']), name: String(ref['name']), key: String(ref['key']), optional: ref['optional'] === true };
      }),
  );
}

export type ContainerState = { waiting: { reason: string; message?: string } } | { running: { startedAt: string } } | { terminated: Obj };

/** containerStatuses of a pod whose containers are all in `state`. */
export function containerStatuses(podSpec: Obj, state: ContainerState, key: 'containers' | 'initContainers' = 'containers'): Obj[] {
  return ((podSpec[key] ?? []) as Obj[]).map((container) => ({
    name: container['name'],
    image: container['image'],
    imageID: 'running' in state || 'terminated' in state ? `docker.io/library/${container['name']}@sha256:${'0'.repeat(64)}` : '',
    ready: 'running' in state,
    restartCount: 0,
    started: 'running' in state,
    state,
    ...('running' in state || 'terminated' in state ? { containerID: `containerd://${randomBytes(32).toString('hex')}` } : {}),
  }));
}

export function terminated(exitCode: number, startedAt: string, reason?: string): ContainerState {
  return {
    terminated: { exitCode, reason: reason ?? (exitCode === 0 ? 'Completed' : 'Error'), startedAt, finishedAt: now() },
  };
}

export function condition(type: string, status: 'True' | 'False', reason?: string, message?: string): Obj {
  const time = now();
  return { type, status, lastProbeTime: time, lastTransitionTime: time, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The part of Job validation a client can trip: the name (it becomes a pod label), containers, restartPolicy. */
export function jobCauses(job: Obj): Cause[] {
  const causes: Cause[] = [];
  const name = job['metadata']?.name;
  if (!name) causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired' });
  else if (!DNS_LABEL.test(name) || name.length > 63) {
    causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`, reason: 'FieldValueInvalid' });
  }
  const spec = job['spec']?.template?.spec;
  const containers = (spec?.containers ?? []) as Obj[];
  if (containers.length === 0) causes.push({ field: 'spec.template.spec.containers', message: 'Required value', reason: 'FieldValueRequired' });
  containers.forEach((container, index) => {
    if (!container['name']) causes.push({ field: `spec.template.spec.containers[${index}].name`, message: 'Required value', reason: 'FieldValueRequired' });
    if (!container['image']) causes.push({ field: `spec.template.spec.containers[${index}].image`, message: 'Required value', reason: 'FieldValueRequired' });
  });
  const restart = spec?.restartPolicy;
  if (restart !== 'Never' && restart !== 'OnFailure') {
    causes.push({ field: 'spec.template.spec.restartPolicy', message: `Unsupported value: "${restart ?? ''}": supported values: "OnFailure", "Never"`, reason: 'FieldValueNotSupported' });
  }
  return causes;
}

export function secretCauses(secret: Obj): Cause[] {
  const name = secret['metadata']?.name;
  if (!name) return [{ field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired' }];
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
    return [{ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`, reason: 'FieldValueInvalid' }];
  }
  const size = [...Object.values(secret['data'] ?? {}).map((value) => Buffer.from(String(value), 'base64').length), ...Object.values(secret['stringData'] ?? {}).map((value) => Buffer.byteLength(String(value)))].reduce((a, b) => a + b, 0);
  if (size > 1024 * 1024) return [{ field: 'data', message: 'Too long: must have at most 1048576 bytes', reason: 'FieldValueTooLong' }];
  return [];
}
