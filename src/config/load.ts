/**
 * Finding, reading and validating fracta.yaml. Raw YAML goes through zod into RuntimeConfig objects;
 * every problem is reported as `file: path.to.field: what is wrong (and what is allowed)`.
 */
import { didYouMean } from '../did-you-mean.js';
import { readStateFileSync } from '../read-bounded.js';
import path from 'node:path';
import { createRequire } from 'node:module';
import { FractaError } from '../errors.js';
import { BUILTIN_DEFAULT_RUNTIME, BUILTIN_RUNTIMES } from './defaults.js';
import { formatIssues, formatPath } from './errors.js';
import type { AdapterCatalog, FractaConfig, RuntimeConfig } from './runtime.js';
import { configSchema, runtimeCommonShape, strictObject } from './schema.js';

export { locateConfig, type ConfigLocation } from './locate.js';
import type { ConfigLocation } from './locate.js';

function displayName(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

export function loadConfig(location: ConfigLocation, adapters: AdapterCatalog): FractaConfig {
  if (location.path === null) return parseConfig({}, null, adapters);
  let text: string;
  try {
    text = readStateFileSync(location.path, MAX_CONFIG_BYTES, { follow: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EBADSTATE' ? `it ${(error as Error).message.slice(location.path.length + 1)}` : (error as Error).message;
    throw new FractaError('config_invalid', `${location.path}: cannot read the config (${reason}); fix the path given by --config or FRACTA_CONFIG`);
  }
  return parseConfigText(text, location.path, adapters);
}

/** A config is a few KB; this leaves room for any real one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Deeper than this, YAML is not a config but an attack on the parser (which runs out of memory past a few thousand levels). */
const MAX_NESTING = 64;

/**
 * Where the text nests deeper than MAX_NESTING (flow brackets, or `- - - x` on one line), before the
 * parser sees it. A bracket inside a quoted string or a comment does not count; one inside a plain
 * scalar (`a[0]`) does, which only ever errs towards refusing a text no person would write.
 */
function tooDeep(text: string): number | undefined {
  let depth = 0;
  let line = 1;
  let quote: string | undefined;
  let lineStart = true;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (char === '\n') {
      line++;
      lineStart = true;
      continue;
    }
    if (lineStart) {
      lineStart = false;
      const markers = /^[ \t]*(?:[-?:][ \t]+)+/.exec(text.slice(index, index + MAX_NESTING * 4 + 256))?.[0].replace(/\s/g, '').length ?? 0;
      if (markers > MAX_NESTING) return line;
    }
    if (quote) {
      if (char === '\\' && quote === '"') index++;
      else if (char === quote) quote = undefined;
      continue;
    }
    if (char === '"' || char === "'") quote = char;
    else if (char === '#' && (index === 0 || /\s/.test(text[index - 1]!))) {
      const end = text.indexOf('\n', index);
      index = end === -1 ? text.length : end - 1;
    } else if (char === '[' || char === '{') {
      if (++depth > MAX_NESTING) return line;
    } else if ((char === ']' || char === '}') && depth > 0) depth--;
  }
  return undefined;
}

// Loaded when a config file is first read, not when fracta starts (yaml is a large module).
const require = createRequire(import.meta.url);

export function parseConfigText(text: string, file: string, adapters: AdapterCatalog): FractaConfig {
  const { parseDocument } = require('yaml') as typeof import('yaml');
  const name = displayName(file);
  const deep = tooDeep(text);
  if (deep !== undefined) throw new FractaError('config_invalid', `${name}:${deep}: nested more than ${MAX_NESTING} levels deep; a fracta.yaml never is: fix the file`);
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const lines = document.errors.map((error) => {
      const at = error.linePos?.[0];
      return `${name}${at ? `:${at.line}:${at.col}` : ''}: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:$/, '')}`;
    });
    throw new FractaError('config_invalid', lines.join('\n'));
  }
  let raw: unknown;
  try {
    // An alias expanded more often than this is a "billion laughs", not a config.
    raw = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new FractaError('config_invalid', `${name}: ${(error as Error).message.split('\n')[0]}; fix the file`);
  }
  return parseConfig(raw ?? {}, file, adapters);
}

/**
 * Validates a parsed document (or {} for the built-in defaults) into a FractaConfig. The adapters'
 * own keys are checked by the schemas they bring (host/adapters.ts hands them in), so config knows
 * no adapter.
 */
export function parseConfig(raw: unknown, file: string | null, adapters: AdapterCatalog): FractaConfig {
  const name = file === null ? 'built-in defaults' : displayName(file);
  const fail = (lines: string[]): never => {
    throw new FractaError('config_invalid', lines.map((line) => `${name}: ${line}`).join('\n'));
  };

  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) fail(formatIssues(parsed.error.issues, []));
  const agents = parsed.data!.agents;

  const problems: string[] = [];
  const runtimes = new Map<string, RuntimeConfig>();
  const userRuntimes = agents.agent_runtimes;
  const merged = { ...BUILTIN_RUNTIMES, ...userRuntimes };
  for (const [runtimeName, rawRuntime] of Object.entries(merged)) {
    const at = ['agents', 'agent_runtimes', runtimeName];
    const runtime = resolveRuntime(runtimeName, rawRuntime, at, problems, adapters);
    if (runtime) runtimes.set(runtimeName, runtime);
  }

  const defaultRuntime = agents.default_runtime ?? BUILTIN_DEFAULT_RUNTIME;
  if (!runtimes.has(defaultRuntime) && problems.length === 0) {
    problems.push(
      `agents.default_runtime: unknown runtime "${defaultRuntime}"${didYouMean(defaultRuntime, [...runtimes.keys()])} (use ${[...runtimes.keys()].join(', ') || 'a runtime defined under agents.agent_runtimes'})`,
    );
  }
  if (problems.length > 0) fail(problems);

  return {
    source: file,
    baseDir: file === null ? process.cwd() : path.dirname(file),
    defaultRuntime,
    timeoutS: agents.timeout_s,
    killGraceS: agents.kill_grace_s,
    sessionIdleS: agents.session_idle_timeout_s,
    idleTimeoutS: agents.idle_timeout_s,
    maxConcurrent: agents.max_concurrent,
    maxRuntimeConcurrent: agents.max_runtime_concurrent,
    maxDepth: agents.max_depth,
    maxChildren: agents.max_children,
    secretEnv: agents.secret_env,
    inheritEnv: agents.inherit_env,
    cleanup: agents.workspace.cleanup,
    allowedRepoRoots: agents.workspace.allowed_repo_roots?.map((root) => path.resolve(file === null ? process.cwd() : path.dirname(file), root)),
    approvals: agents.approvals,
    budget: (({ reserve: _reserve, ...limits }) => limits)(agents.budget),
    reserve: agents.budget.reserve ?? {},
    pricing: parsed.data!.pricing,
    waitCeilings: agents.mcp.wait_ceiling_s,
    runtimes,
  };
}

const RUNTIME_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function resolveRuntime(
  name: string,
  raw: Record<string, unknown>,
  at: string[],
  problems: string[],
  adapters: AdapterCatalog,
): RuntimeConfig | undefined {
  if (!RUNTIME_NAME.test(name)) {
    problems.push(`${formatPath(at)}: invalid runtime name (use letters, digits, ".", "_" and "-", starting with a letter or digit)`);
    return undefined;
  }
  const adapterName = raw.adapter;
  const adapter = typeof adapterName === 'string' ? adapters.find(adapterName) : undefined;
  if (!adapter) {
    const what = adapterName === undefined ? 'is required' : `unknown adapter "${String(adapterName)}"`;
    problems.push(`${formatPath([...at, 'adapter'])}: ${what} (use ${adapters.names().join(', ')})`);
    return undefined;
  }
  const schema = strictObject({ ...runtimeCommonShape, ...adapter.optionsShape });
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    problems.push(...formatIssues(parsed.error.issues, at));
    return undefined;
  }
  const {
    adapter: _adapter,
    description,
    model,
    model_tiers,
    env,
    timeout_s,
    idle_timeout_s,
    cleanup,
    max_concurrent,
    inherit_env,
    backend,
    kubernetes,
    approvals,
    budget,
    ...options
  } = parsed.data as Record<
    string,
    unknown
  > &
    typeof parsed.data;
  if (backend === 'kubernetes') {
    for (const key of ['namespace', 'image'] as const) {
      if (!kubernetes?.[key]) problems.push(`${formatPath([...at, 'kubernetes', key])}: is required with backend: kubernetes (${key === 'namespace' ? 'the namespace its Jobs run in' : 'the container image with the CLI'})`);
    }
  }
  const checks = adapter.check?.(options) ?? [];
  for (const [key, message] of checks) problems.push(`${formatPath([...at, key])}: ${message}`);
  if (checks.length > 0) return undefined;
  return {
    name,
    adapter: adapter.name,
    description,
    model,
    modelTiers: model_tiers,
    env,
    timeoutS: timeout_s,
    idleTimeoutS: idle_timeout_s,
    cleanup,
    maxConcurrent: max_concurrent,
    inheritEnv: inherit_env,
    backend,
    kubernetes,
    approvals,
    budget,
    options,
  };
}
