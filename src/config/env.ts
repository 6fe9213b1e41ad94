/**
 * The environment a child gets: fracta's own, with the runtime's `env` on top. `${VAR}` in a value is
 * read from fracta's environment at spawn time; whatever it injects counts as a secret and is masked
 * wherever fracta records it.
 */
import { FractaError } from '../errors.js';
import type { RuntimeConfig } from './runtime.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface ChildEnv {
  readonly env: Record<string, string>;
  /** Values injected from ${VAR}: never to appear in a record, a log or a result. */
  readonly secrets: string[];
}

export function resolveChildEnv(runtime: RuntimeConfig, source: NodeJS.ProcessEnv): ChildEnv {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) if (value !== undefined) env[key] = value;
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
  return { env, secrets };
}

/** Replaces each secret value by *** (longest first, so one secret inside another is fully hidden). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}
