/**
 * The settings.json a gemini child reads from its per-run home. Gemini takes MCP servers only from a
 * settings file (no flag), and offers their tools in headless mode only when the server is trusted.
 * The file is built from: the user's own auth choice (so a logged-in user stays logged in), fracta's
 * offline and retry defaults, the runtime's `settings`, and the MCP servers of this run.
 */
import type { McpServerEntry } from '../host.js';

export const AUTH_TYPES = ['gemini-api-key', 'oauth-personal', 'vertex-ai', 'compute-default-credentials'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

type Json = Record<string, unknown>;

export interface SettingsInput {
  /** The user's own settings.json (only its `security.auth` is carried over). */
  readonly user: Json;
  /** The child's environment, to tell how it authenticates when nothing says so. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly authType: AuthType | undefined;
  readonly usageStatistics: boolean;
  readonly autoUpdate: boolean;
  readonly maxAttempts: number | undefined;
  readonly retryFetchErrors: boolean | undefined;
  readonly excludeTools: readonly string[] | undefined;
  /** The runtime's `settings`, merged over everything fracta sets except the MCP servers. */
  readonly runtimeSettings: Json;
  readonly mcpServers: Readonly<Record<string, McpServerEntry>>;
  /** An ignore file (relative to the workspace) that hides fracta's folder from the agent's file tools. */
  readonly ignoreFile: string;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Objects merge key by key; anything else in `over` replaces what `base` has. */
export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isObject(value) && isObject(out[key]) ? deepMerge(out[key] as Json, value) : value;
  }
  return out;
}

/**
 * The auth method when neither the user's settings nor the runtime name one. With GOOGLE_GEMINI_BASE_URL
 * set and no method chosen, gemini picks "gateway", which it then refuses (exit 41, "Invalid auth method
 * selected."); a key in the env means the Gemini API, whose requests honour the base URL.
 */
function impliedAuthType(env: SettingsInput['env']): AuthType | undefined {
  if (env.GOOGLE_GENAI_USE_GCA === 'true' || env.GOOGLE_GENAI_USE_VERTEXAI === 'true') return undefined;
  return env.GOOGLE_GEMINI_BASE_URL && env.GEMINI_API_KEY ? 'gemini-api-key' : undefined;
}

export function childSettings(input: SettingsInput): Json {
  const userAuth = isObject(input.user.security) && isObject(input.user.security.auth) ? input.user.security.auth : {};
  const carried: Json = {};
  for (const key of ['selectedType', 'enforcedType', 'useExternal'] as const) if (userAuth[key] !== undefined) carried[key] = userAuth[key];
  const selectedType = input.authType ?? carried.selectedType ?? impliedAuthType(input.env);

  const general: Json = { enableAutoUpdate: input.autoUpdate, enableAutoUpdateNotification: input.autoUpdate };
  if (input.maxAttempts !== undefined) general.maxAttempts = input.maxAttempts;
  if (input.retryFetchErrors !== undefined) general.retryFetchErrors = input.retryFetchErrors;

  let settings: Json = {
    security: { auth: { ...carried, ...(selectedType ? { selectedType } : {}) } },
    privacy: { usageStatisticsEnabled: input.usageStatistics },
    general,
    context: { fileFiltering: { customIgnoreFilePaths: [input.ignoreFile] } },
    ...(input.excludeTools?.length ? { tools: { exclude: [...input.excludeTools] } } : {}),
  };
  settings = deepMerge(settings, input.runtimeSettings);
  const servers = Object.entries(input.mcpServers);
  if (servers.length > 0) {
    settings.mcpServers = Object.fromEntries(
      // Trusted: in headless mode the tools of an untrusted server are not offered at all.
      servers.map(([name, entry]) => [name, { command: entry.command, args: [...entry.args], env: { ...entry.env }, trust: true }]),
    );
  } else delete settings.mcpServers;
  return settings;
}

/** settings.json may hold comments (the CLI strips them); this reads it the same way. */
export function parseSettings(text: string): Json {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else out += c;
  }
  const parsed: unknown = JSON.parse(out);
  return isObject(parsed) ? parsed : {};
}
