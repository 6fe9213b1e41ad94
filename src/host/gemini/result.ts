/**
 * Gemini's results and failures. `--output-format json` prints `{session_id, response, stats}` on
 * success; on failure stdout is empty and `{session_id, error: {type, message, code}}` goes to stderr
 * after a stack trace (code is the HTTP status for API errors, 41 for auth, 1 otherwise). API errors
 * often carry the server's own JSON body as their message. The exit code is the status modulo 256.
 */
import type { ErrorCode } from '../../errors.js';
import type { Result, Usage } from '../../events.js';

const HINTS: Partial<Record<ErrorCode, string>> = {
  auth_failed:
    'give the runtime a key (env: GEMINI_API_KEY: "${GEMINI_API_KEY}" in fracta.yaml, with auth_type: gemini-api-key) or log in with `gemini` as the user fracta runs as (each run links that login from ~/.gemini)',
  unknown_model: "pick a model the account can use (model, model_tiers or the spawn's model)",
  api_unreachable:
    'check GOOGLE_GEMINI_BASE_URL and the network; retry_fetch_errors: false in fracta.yaml makes gemini fail at once instead of retrying for minutes',
  rate_limited: 'wait and retry, or use a smaller model tier; max_attempts in fracta.yaml bounds how long gemini retries',
  session_not_found: 'resume with resume_run, which runs in the workspace the session started in',
};

/** Tools gemini offers in headless mode whatever the permissions: a failure of these is not a denial. */
const ALWAYS_OFFERED = new Set(['update_topic', 'list_directory', 'read_file', 'grep_search', 'glob', 'google_web_search', 'enter_plan_mode', 'invoke_agent']);

interface ApiError {
  readonly status: number | undefined;
  readonly statusText: string | undefined;
  readonly message: string;
}

/** The server's error inside gemini's message: `[API Error: {"error":{...}}]`, or the body as the whole message. */
export function apiErrorOf(message: string): ApiError | undefined {
  const inner = /^\s*(?:\[API Error: )?(\{[\s\S]*\})\]?\s*$/.exec(message)?.[1];
  if (!inner) return undefined;
  try {
    const error = (JSON.parse(inner) as { error?: { code?: unknown; status?: unknown; message?: unknown } }).error;
    if (!error || typeof error !== 'object') return undefined;
    return {
      status: typeof error.code === 'number' ? error.code : undefined,
      statusText: typeof error.status === 'string' ? error.status : undefined,
      message: typeof error.message === 'string' ? error.message : inner,
    };
  } catch {
    return undefined;
  }
}

/** What kind of failure gemini reported, from the HTTP status (when known) and its words. */
export function classifyGeminiError(text: string, status: number | undefined): ErrorCode {
  if (status === 401 || status === 403 || /UNAUTHENTICATED|PERMISSION_DENIED|API key not valid|API_KEY_INVALID|Invalid auth method|set an Auth method|must specify the GEMINI_API_KEY/i.test(text)) {
    return 'auth_failed';
  }
  if (/error resuming session|invalid session identifier|no previous sessions found/i.test(text)) return 'session_not_found';
  if (status === 404 || /is not found for API version|model.*(not found|does not exist)/i.test(text)) return 'unknown_model';
  if (status === 429 || /RESOURCE_EXHAUSTED|quota|rate limit|try again later/i.test(text)) return 'rate_limited';
  if (/fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|network/i.test(text)) return 'api_unreachable';
  if ((status !== undefined && status >= 400) || /API Error/i.test(text)) return 'api_error';
  return 'agent_error';
}

/** A failed Result from gemini's error object (or a stream's error result). */
export function failureResult(message: string, code: unknown, base: Partial<Result> = {}): Result {
  const api = apiErrorOf(message);
  // For API errors `code` is the HTTP status; 41 (auth), 42 (input) and 1 are gemini's own exit codes.
  const status = api?.status ?? (typeof code === 'number' && code >= 400 && code < 600 ? code : undefined);
  const said = api ? api.message : message.replace(/^\[API Error: ([\s\S]*?)\]/, '$1').trim();
  const fromApi = /^\[API Error: /.test(message) || api !== undefined || status !== undefined;
  const label = [status, api?.statusText].filter((part) => part !== undefined).join(' ');
  const text = fromApi ? `Gemini API error${label ? ` ${label}` : ''}: ${said}` : said;
  const errorCode = classifyGeminiError(`${message}\n${api?.statusText ?? ''}`, status);
  const hint = HINTS[errorCode];
  return {
    output: base.output ?? '',
    isError: true,
    errorCode,
    errorMessage: hint ? `${text || 'gemini reported an error'} (${hint})` : text,
    warnings: base.warnings ?? [],
    ...(base.resumeToken ? { resumeToken: base.resumeToken } : {}),
    ...(base.usage ? { usage: base.usage } : {}),
    ...(base.turns !== undefined ? { turns: base.turns } : {}),
  };
}

type Tokens = { input?: unknown; prompt?: unknown; candidates?: unknown; cached?: unknown; thoughts?: unknown };
type ModelStats = { tokens?: Tokens; roles?: Record<string, { totalRequests?: unknown }> };

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Tokens summed over every model the run used (the router's included): uncached input, cache reads, output with thoughts. */
export function usageFromStats(stats: unknown): Usage | undefined {
  const models = (stats as { models?: Record<string, ModelStats> } | undefined)?.models;
  if (!models || typeof models !== 'object') return undefined;
  const usage = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0 };
  for (const model of Object.values(models)) {
    const tokens = model?.tokens ?? {};
    usage.input_tokens += tokens.input !== undefined ? num(tokens.input) : Math.max(0, num(tokens.prompt) - num(tokens.cached));
    usage.output_tokens += num(tokens.candidates) + num(tokens.thoughts);
    usage.cache_read_input_tokens += num(tokens.cached);
  }
  return usage;
}

/** Requests to the main model: one per model response, as Claude counts turns. */
function turnsFromStats(stats: unknown): number | undefined {
  const models = (stats as { models?: Record<string, ModelStats> } | undefined)?.models;
  if (!models || typeof models !== 'object') return undefined;
  let turns = 0;
  for (const model of Object.values(models)) turns += num(model?.roles?.main?.totalRequests);
  return turns;
}

function failedToolsWarning(stats: unknown): string[] {
  const byName = (stats as { tools?: { byName?: Record<string, { fail?: unknown }> } } | undefined)?.tools?.byName;
  if (!byName || typeof byName !== 'object') return [];
  const failed = Object.entries(byName).filter(([name, tool]) => num(tool?.fail) > 0 && !ALWAYS_OFFERED.has(name) && !name.startsWith('mcp_'));
  if (failed.length === 0) return [];
  const list = failed.map(([name, tool]) => `${name} (${num(tool.fail)})`).join(', ');
  return [
    `gemini reported failed calls of ${list}: in headless mode gemini neither offers nor runs tools outside allowed_tools and the runtime's permissions; allow them there if they were meant to run`,
  ];
}

export function isGeminiJson(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && ('response' in value || 'error' in value) && 'session_id' in value;
}

export function resultFromGeminiJson(object: Record<string, unknown>): Result {
  const resumeToken = typeof object.session_id === 'string' ? object.session_id : undefined;
  const usage = usageFromStats(object.stats);
  const turns = turnsFromStats(object.stats);
  const warnings = [
    ...(Array.isArray(object.warnings) ? object.warnings.filter((w): w is string => typeof w === 'string').map((w) => `gemini: ${w}`) : []),
    ...failedToolsWarning(object.stats),
  ];
  const error = object.error as { message?: unknown; code?: unknown } | undefined;
  if (error && typeof error === 'object') {
    return failureResult(typeof error.message === 'string' ? error.message : 'gemini reported an error', error.code, {
      warnings,
      ...(resumeToken ? { resumeToken } : {}),
      ...(usage ? { usage } : {}),
    });
  }
  return {
    output: typeof object.response === 'string' ? object.response : '',
    isError: false,
    resumeToken,
    usage,
    ...(turns !== undefined ? { turns } : {}),
    warnings,
  };
}

/** The last JSON object in a text that also holds other output (gemini's stderr: a stack trace, then the error). */
export function lastJsonObject(text: string): Record<string, unknown> | undefined {
  for (let at = text.lastIndexOf('{'); at >= 0; at = text.lastIndexOf('{', at - 1)) {
    if (at > 0 && text[at - 1] !== '\n') continue;
    try {
      const value: unknown = JSON.parse(text.slice(at));
      if (value !== null && typeof value === 'object') return value as Record<string, unknown>;
    } catch {
      // not where the object starts
    }
  }
  return undefined;
}

/** Failures gemini prints as plain text on stderr before any output (auth, resume, trust, an empty prompt). */
const STDERR_FAILURES: ReadonlyArray<{ pattern: RegExp; code: ErrorCode; note?: string }> = [
  { pattern: /^(Please set an Auth method.*|When using Gemini API, you must specify.*|Invalid auth method selected\..*)$/m, code: 'auth_failed' },
  { pattern: /^(Error resuming session:.*)$/m, code: 'session_not_found' },
  {
    pattern: /^(?:\u001b\[\d+m)?(Gemini CLI is not running in a trusted directory.*?)(?:\u001b\[\d+m)?$/m,
    code: 'config_invalid',
    note: 'fracta passes --skip-trust; an extra_args or a settings file that undoes it is the likely cause',
  },
  { pattern: /^(No input provided via stdin\..*)$/m, code: 'invalid_input', note: 'the prompt was empty' },
];

export function geminiFailureFromStderr(stderr: string): { code: ErrorCode; message: string } | undefined {
  const object = lastJsonObject(stderr);
  if (object && isGeminiJson(object) && object.error) {
    const result = resultFromGeminiJson(object);
    return { code: result.errorCode ?? 'agent_error', message: result.errorMessage ?? 'gemini reported an error' };
  }
  for (const { pattern, code, note } of STDERR_FAILURES) {
    const line = pattern.exec(stderr)?.[1]?.trim();
    if (!line) continue;
    const hint = note ?? HINTS[code];
    return { code, message: hint ? `${line} (${hint})` : line };
  }
  return undefined;
}
