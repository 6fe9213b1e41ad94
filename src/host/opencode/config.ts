/**
 * The inline opencode config a run gets (OPENCODE_CONFIG_CONTENT, the last config opencode merges, so
 * it beats the user's and the project's files): the runtime's own (that variable in its env, then its
 * `config` option) with fracta's parts on top: the permission rules and the retry-limit plugin.
 */
import { FractaError } from '../../errors.js';
import type { PermissionConfig } from './permissions.js';

export type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Arrays opencode itself concatenates across config layers. */
const CONCATENATED = new Set(['plugin', 'instructions']);

/** `over` merged into `base`: objects key by key, the lists opencode concatenates joined, anything else replaced. */
export function mergeConfig(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    if (isObject(current) && isObject(value)) out[key] = mergeConfig(current, value);
    else if (CONCATENATED.has(key) && Array.isArray(current) && Array.isArray(value)) out[key] = [...new Set([...current, ...value])];
    else out[key] = value;
  }
  return out;
}

/** The runtime's OPENCODE_CONFIG_CONTENT, if its env has one. */
function envConfig(runtime: string, env: Readonly<Record<string, string>>): JsonObject {
  const text = env.OPENCODE_CONFIG_CONTENT;
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new FractaError(
      'config_invalid',
      `runtime "${runtime}": OPENCODE_CONFIG_CONTENT in its env is not JSON (${(error as Error).message}); fracta adds to it, so it must be plain JSON (or move it to the runtime's config option)`,
      'env.OPENCODE_CONFIG_CONTENT',
    );
  }
  if (!isObject(parsed)) {
    throw new FractaError('config_invalid', `runtime "${runtime}": OPENCODE_CONFIG_CONTENT in its env must be a JSON object`, 'env.OPENCODE_CONFIG_CONTENT');
  }
  return parsed;
}

/**
 * The runtime's own rules followed by fracta's: opencode applies the last matching rule, so fracta's
 * allow-list ("*" deny first) comes after the runtime's allows, and the runtime's denies come last again
 * (an allow-list narrows what the runtime allows; it never lifts what the runtime denies). `theirs` is
 * the rule set at this level; `above` are rule sets whose denies also hold here (the top level's, for an
 * agent's rules, which opencode applies before the agent's).
 */
export function combineRules(theirs: unknown, ours: PermissionConfig, above: unknown[] = []): JsonObject {
  const out: JsonObject = isObject(theirs) ? { ...theirs } : {};
  const append = (key: string, value: unknown): void => {
    delete out[key];
    out[key] = value;
  };
  for (const [key, value] of Object.entries(ours)) append(key, value);
  for (const rules of [...above, theirs]) {
    if (!isObject(rules)) continue;
    for (const [key, value] of Object.entries(rules)) {
      if (value === 'deny') append(key, 'deny');
      else if (isObject(value)) {
        const denied = Object.fromEntries(Object.entries(value).filter(([, action]) => action === 'deny'));
        if (Object.keys(denied).length === 0) continue;
        const current = out[key];
        append(key, { ...(isObject(current) ? current : typeof current === 'string' ? { '*': current } : {}), ...denied });
      }
    }
  }
  return out;
}

export interface FractaParts {
  /** The agent whose rules these are (opencode's default primary agent is `build`). */
  readonly agent: string;
  readonly permission: PermissionConfig | undefined;
  /** File URLs of plugins to load. */
  readonly plugins: readonly string[];
}

/** The OPENCODE_CONFIG_CONTENT text, or undefined when the runtime has none and fracta adds nothing. */
export function inlineConfig(runtime: string, env: Readonly<Record<string, string>>, own: JsonObject, parts: FractaParts): string | undefined {
  const config = mergeConfig(envConfig(runtime, env), own);
  if (parts.permission) {
    const top = config.permission;
    config.permission = combineRules(top, parts.permission);
    const agents = isObject(config.agent) ? config.agent : {};
    const agent = isObject(agents[parts.agent]) ? (agents[parts.agent] as JsonObject) : {};
    config.agent = { ...agents, [parts.agent]: { ...agent, permission: combineRules(agent.permission, parts.permission, [top]) } };
  }
  const merged = parts.plugins.length > 0 ? mergeConfig(config, { plugin: [...parts.plugins] }) : config;
  return Object.keys(merged).length > 0 ? JSON.stringify(merged) : undefined;
}
