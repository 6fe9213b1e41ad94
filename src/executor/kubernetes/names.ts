/**
 * Names and label values as the Kubernetes API validates them. The API server would refuse a bad one
 * with a 422 after a round trip; checking here lets the error name the fracta field that holds it.
 */
import { FractaError } from '../../errors.js';
import { DNS_LABEL_MAX, isDnsLabel, isDnsSubdomain } from '../../config/dns-names.js';

const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const LABEL_VALUE_MAX = 63;

/** The name part of a label key (`kubernetes.io/hostname` → `hostname`). */
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function isLabelValue(value: string): boolean {
  return value.length <= LABEL_VALUE_MAX && LABEL_VALUE.test(value);
}

/** A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters. */
export function isLabelKey(value: string): boolean {
  const slash = value.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : value.slice(0, slash);
  const name = slash === -1 ? value : value.slice(slash + 1);
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}

/**
 * The Job of a run: `fracta-` and the run id in lower case. No sanitizing beyond the case: two run ids
 * must never share a Job, so an id that cannot become a name is refused instead of rewritten.
 */
export function jobName(runId: string): string {
  const name = `fracta-${runId.toLowerCase()}`;
  if (!isDnsLabel(name)) {
    throw new FractaError(
      'invalid_input',
      `run id "${runId}" cannot name a Kubernetes Job: "${name}" must be at most ${DNS_LABEL_MAX} lowercase letters, digits and "-", ` +
        'starting and ending with a letter or digit; use a run id fracta generated',
      'run_id',
    );
  }
  return name;
}

/** The per-run Secret that carries the prompt and the workspace files. */
export function inputSecretName(runId: string): string {
  return `${jobName(runId)}-input`;
}

/**
 * Any string as a label value: characters a label refuses become `-`, then it is cut to 63 and trimmed
 * to start and end with a letter or digit. Lossy, so only for values read by people and selectors that
 * also carry the run id (the runtime name), never for identity.
 */
export function labelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, LABEL_VALUE_MAX)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
}
