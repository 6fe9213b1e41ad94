/**
 * The environment a child gets: fracta's own (all of it, or only the names in `inherit_env`), with
 * the runtime's `env` on top. `${VAR}` in a value is read from fracta's environment at spawn time.
 * Secrets are what ${VAR} injects and the values of secret-named variables (`secret_env`, and names
 * ending in _API_KEY, _TOKEN, _SECRET, _PASSWORD); fracta masks them wherever it writes.
 */
import { FractaError } from '../errors.js';
import type { RuntimeConfig } from './runtime.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface ChildEnv {
  readonly env: Record<string, string>;
  /** Values injected from ${VAR}: never to appear in a record, a log or a result. */
  readonly secrets: string[];
}

/** Variables whose values are secrets whatever fracta.yaml says. */
export const DEFAULT_SECRET_ENV = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'OPENAI_API_KEY',
  'GEMINI_API_KEY',
  'GOOGLE_API_KEY',
  'AZURE_OPENAI_API_KEY',
  'GITHUB_TOKEN',
  'GH_TOKEN',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'HF_TOKEN',
  'NPM_TOKEN',
];
const SECRET_NAME = /(_API_KEY|_TOKEN|_SECRET|_PASSWORD|_SECRET_KEY)$/;

export interface EnvPolicy {
  /** Only these of fracta's variables reach the child; undefined: all of them. */
  readonly inherit: readonly string[] | undefined;
  /** More variable names whose values are secrets. */
  readonly secretNames: readonly string[];
}

export function isSecretName(name: string, extra: readonly string[]): boolean {
  return DEFAULT_SECRET_ENV.includes(name) || extra.includes(name) || SECRET_NAME.test(name);
}

export function resolveChildEnv(runtime: RuntimeConfig, source: NodeJS.ProcessEnv, policy: EnvPolicy = { inherit: undefined, secretNames: [] }): ChildEnv {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    if (value !== undefined && (policy.inherit === undefined || policy.inherit.includes(key))) env[key] = value;
  }
  const secrets: string[] = [];
  for (const [key, template] of Object.entries(runtime.env)) {
    env[key] = template.replace(REFERENCE, (_whole, name: string) => {
      const value = source[name];
      if (value === undefined) {
        throw new FractaError(
          'env_missing',
          `runtime "${runtime.name}" needs the environment variable ${name} (for env.${key} in fracta.yaml), and fracta's environment does not have it: set ${name} where fracta is started (for an MCP client, in the "env" of its server entry)`,
          `env.${key}`,
        );
      }
      if (value.length > 0) secrets.push(value);
      return value;
    });
  }
  for (const [key, value] of Object.entries(env)) if (value && isSecretName(key, policy.secretNames)) secrets.push(value);
  // Also what fracta itself holds under a secret name, in case a child echoes it from elsewhere.
  for (const [key, value] of Object.entries(source)) if (value && isSecretName(key, policy.secretNames)) secrets.push(value);
  return { env, secrets: [...new Set(secrets)] };
}

const STARS = Buffer.from('***');

/** Secrets shorter than this are not masked: replacing every "a" or "42" would garble everything. */
export const MIN_SECRET_LENGTH = 4;

/** Replaces each secret value by *** (longest first, so one secret inside another is fully hidden). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * Masks secrets in a stream of bytes that arrives in pieces. Only an end of a piece that could be the
 * start of a secret is held back until the next piece (so a secret cut in two is still found whole);
 * everything else passes at once, so a live agent's output is never delayed. It works on the bytes
 * (a secret's UTF-8 bytes match where its characters do): no decoding, and no copy of a piece that
 * holds no secret, so a 100 MB output costs little more than passing it on.
 */
export class StreamMasker {
  private readonly secrets: Buffer[];
  private readonly longest: number;
  private carry: Buffer = Buffer.alloc(0);

  constructor(secrets: readonly string[]) {
    this.secrets = secrets
      .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
      .map((secret) => Buffer.from(secret))
      .sort((a, b) => b.length - a.length);
    this.longest = Math.max(0, ...this.secrets.map((secret) => secret.length));
  }

  push(chunk: Buffer): Buffer {
    const masked = this.mask(this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk);
    const hold = this.heldBack(masked);
    // A copy: the held-back end must not keep the whole piece alive.
    this.carry = Buffer.from(masked.subarray(masked.length - hold));
    return masked.subarray(0, masked.length - hold);
  }

  /** Every secret replaced by ***, longest first (so one secret inside another is fully hidden). */
  private mask(data: Buffer): Buffer {
    let out = data;
    for (const secret of this.secrets) {
      let at = out.indexOf(secret);
      if (at === -1) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at !== -1) {
        parts.push(out.subarray(from, at), STARS);
        from = at + secret.length;
        at = out.indexOf(secret, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }

  /** The length of the longest end of `data` that is the beginning of some secret. */
  private heldBack(data: Buffer): number {
    for (let length = Math.min(this.longest - 1, data.length); length > 0; length--) {
      const end = data.subarray(data.length - length);
      if (this.secrets.some((secret) => secret.length > length && secret.subarray(0, length).equals(end))) return length;
    }
    return 0;
  }

  end(): Buffer {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return rest;
  }
}
