/**
 * The environment a child gets: fracta's own (all of it, or only the names in `inherit_env`), with
 * the runtime's `env` on top. `${VAR}` in a value is read from fracta's environment at spawn time.
 * Secrets are what ${VAR} injects and the values of secret-named variables (`secret_env`, and names
 * ending in _API_KEY, _TOKEN, _SECRET, _PASSWORD); fracta masks them wherever it writes.
 */
import { FractaError } from '../errors.js';
import { MIN_SECRET_LENGTH, withEncodedForms } from '../secrets.js';
import type { RuntimeConfig } from './runtime.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The variables a runtime's env: reads from fracta's environment (its ${VAR} references), each once. */
export function referencedVariables(templates: Readonly<Record<string, string>>): string[] {
  return [...new Set(Object.values(templates).flatMap((template) => [...template.matchAll(REFERENCE)].map((match) => match[1]!)))];
}

/** A value of env: with its references filled from `source`; one that is not set becomes empty (for checks, never for a run). */
export function fillReferences(template: string, source: NodeJS.ProcessEnv): string {
  return template.replace(REFERENCE, (_whole, name: string) => source[name] ?? '');
}

export interface ChildEnv {
  readonly env: Record<string, string>;
  /**
   * Values injected from ${VAR} and of secret-named variables, each with its JSON-escaped forms
   * (secrets.ts): never to appear in a record, a log or a result.
   */
  readonly secrets: string[];
  /** Variables holding a secret too short to mask (MIN_SECRET_LENGTH): said in the run's warnings. */
  readonly unmasked: string[];
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
  const secrets = new Map<string, string>();
  const secret = (name: string, value: string) => {
    if (value.length > 0 && !secrets.has(value)) secrets.set(value, name);
  };
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
      secret(`env.${key}`, value);
      return value;
    });
  }
  for (const [key, value] of Object.entries(env)) if (isSecretName(key, policy.secretNames)) secret(key in runtime.env ? `env.${key}` : key, value);
  // Also what fracta itself holds under a secret name, in case a child echoes it from elsewhere.
  for (const [key, value] of Object.entries(source)) if (value && isSecretName(key, policy.secretNames)) secret(key, value);
  const unmasked = [...new Set([...secrets].filter(([value]) => value.length < MIN_SECRET_LENGTH).map(([, name]) => name))];
  return { env, secrets: withEncodedForms(secrets.keys()), unmasked };
}

/**
 * Every secret any runtime of this config could give a child: what an error raised before a run has
 * its own list (a refused request that quotes the task, say) is masked with.
 */
export function knownSecrets(config: { readonly runtimes: ReadonlyMap<string, RuntimeConfig>; readonly secretEnv: readonly string[] }, source: NodeJS.ProcessEnv): string[] {
  const values = new Set<string>();
  for (const [key, value] of Object.entries(source)) if (value && isSecretName(key, config.secretEnv)) values.add(value);
  for (const runtime of config.runtimes.values()) {
    for (const [key, template] of Object.entries(runtime.env)) {
      for (const [, name] of template.matchAll(REFERENCE)) {
        const value = source[name!];
        if (value) values.add(value);
      }
      if (isSecretName(key, config.secretEnv) && !REFERENCE.test(template) && template) values.add(template);
      REFERENCE.lastIndex = 0;
    }
  }
  return withEncodedForms(values);
}
