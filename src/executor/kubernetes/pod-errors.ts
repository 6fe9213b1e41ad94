/**
 * What the kubelet says of a pod that will never start, turned into errors a user can act on: a
 * missing Secret or key (with the kubectl line that makes it), an image that cannot be pulled. Pure:
 * read from the message and the run's own manifest.
 */
import type { V1Container, V1Job } from '@kubernetes/client-node';
import { FractaError } from '../../errors.js';

/** Waiting reasons of a container whose image will not come. */
export const IMAGE_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable']);

/** The run a message is about. */
export interface PodFacts {
  readonly runId: string;
  readonly namespace: string;
  readonly runtime: string;
  /** The runtime's kubernetes.image, when the status names none. */
  readonly image: string;
  readonly manifest: V1Job;
}

function containersOf(manifest: V1Job): V1Container[] {
  const spec = manifest.spec?.template.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

/** The keys the pod reads from a Secret, from the manifest's secretKeyRefs. */
function secretKeys(manifest: V1Job, name: string): string[] {
  const keys = containersOf(manifest).flatMap((container) => (container.env ?? []).map((entry) => entry.valueFrom?.secretKeyRef).filter((ref) => ref?.name === name).map((ref) => ref!.key));
  return [...new Set(keys)];
}

/** A CreateContainerConfigError: most often a Secret (or a key of it) that kubernetes.env names and the namespace lacks. */
export function configError(message: string, pod: PodFacts): FractaError {
  const { namespace, runtime } = pod;
  const missingKey = /couldn't find key (\S+) in Secret ([^/\s]+)\/(\S+)/.exec(message);
  if (missingKey) {
    const [, key, , name] = missingKey;
    return new FractaError(
      'k8s_secret_missing',
      `the Secret "${name}" in namespace "${namespace}" has no key "${key}", which runtime "${runtime}" reads through kubernetes.env secret_ref: ` +
        `add the key (kubectl -n ${namespace} edit secret ${name}) or fix the secret_ref (the kubelet said: ${message})`,
    );
  }
  const missingSecret = /secret "([^"]+)" not found/.exec(message);
  if (missingSecret) {
    const name = missingSecret[1]!;
    const keys = secretKeys(pod.manifest, name);
    const key = keys.length > 0 ? ` (key ${keys.map((entry) => `"${entry}"`).join(', ')})` : '';
    return new FractaError(
      'k8s_secret_missing',
      `the Secret "${name}"${key} that runtime "${runtime}" reads through kubernetes.env secret_ref does not exist in namespace "${namespace}": ` +
        `create it (kubectl -n ${namespace} create secret generic ${name}${keys.map((entry) => ` --from-literal=${entry}=...`).join('')}) or fix the secret_ref (the kubelet said: ${message})`,
    );
  }
  return new FractaError('k8s_error', `the pod of run ${pod.runId} cannot start its container (CreateContainerConfigError: ${message}); check the runtime's kubernetes: block and the agent image`);
}

/** A container waiting for an image that will not come (one of IMAGE_FAILURES). */
export function imageError(status: { name?: string; image?: string } | undefined, waiting: { reason: string; message?: string }, pod: PodFacts): FractaError {
  const container = containersOf(pod.manifest).find((entry) => entry.name === status?.name);
  const image = container?.image ?? status?.image ?? pod.image;
  const problem = waiting.reason === 'InvalidImageName' ? 'is not a valid image reference' : 'cannot be pulled';
  return new FractaError(
    'k8s_image_failed',
    `the image "${image}" of runtime "${pod.runtime}" ${problem} (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}): ` +
      'check kubernetes.image (name, tag, registry) and that the cluster may pull it (imagePullSecrets of the service account)',
  );
}
