/**
 * Claude's result object (the one `--output-format json` prints, and the last line of stream-json):
 * `is_error` says whether it failed (`subtype` says "success" even then), and the text says why.
 */
import type { ErrorCode } from '../../errors.js';
import type { Result, Usage } from '../../events.js';

interface Denial {
  tool_name?: unknown;
  tool_input?: unknown;
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  auth_failed: 'give the runtime an API key (env: ANTHROPIC_API_KEY: "${ANTHROPIC_API_KEY}" in fracta.yaml) or log in with `claude /login` as the user fracta runs as',
  unknown_model: 'pick a model the account can use (model, model_tiers or the spawn\'s model)',
  api_unreachable: 'check ANTHROPIC_BASE_URL and the network; max_retries in fracta.yaml bounds how long claude retries',
  rate_limited: 'wait and retry, or use a smaller model tier',
  session_not_found: 'resume with resume_run, which runs in the workspace the session started in',
};

/** What kind of failure Claude reported, from its HTTP status and its words. */
export function classifyClaudeError(text: string, status: unknown): ErrorCode {
  if (status === 401 || status === 403 || /not logged in|invalid api key|authentication|x-api-key/i.test(text)) return 'auth_failed';
  if (/no conversation found with session id/i.test(text)) return 'session_not_found';
  if (status === 404 || /issue with the selected model|model.*(not found|does not exist)/i.test(text)) return 'unknown_model';
  if (status === 429 || /rate limit/i.test(text)) return 'rate_limited';
  if (/unable to connect to api|connectionrefused|econnrefused|fetch failed|network/i.test(text)) return 'api_unreachable';
  if (typeof status === 'number' || /^API Error/i.test(text)) return 'api_error';
  return 'agent_error';
}

function pickUsage(raw: unknown): Usage | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const usage: Usage = {};
  for (const key of ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const) {
    const value = (raw as Record<string, unknown>)[key];
    if (typeof value === 'number') usage[key] = value;
  }
  return usage;
}

function describeDenial(denial: Denial): string {
  const name = typeof denial.tool_name === 'string' ? denial.tool_name : 'a tool';
  const input = denial.tool_input as Record<string, unknown> | undefined;
  const detail = typeof input?.command === 'string' ? input.command : typeof input?.file_path === 'string' ? input.file_path : undefined;
  return detail ? `${name} (${detail.slice(0, 80)})` : name;
}

/** A failure claude reports on stderr only (no result object), such as a resume from the wrong folder. */
export function claudeFailureFromStderr(stderr: string): { code: ErrorCode; message: string } | undefined {
  const line = stderr.split('\n').find((text) => /no conversation found|cannot be used with root|not logged in|invalid api key/i.test(text));
  if (!line) return undefined;
  if (/cannot be used with root/i.test(line)) {
    return { code: 'config_invalid', message: `${line.trim()} (claude refuses bypassPermissions as root unless IS_SANDBOX=1 is in the runtime's env)` };
  }
  const code = classifyClaudeError(line, undefined);
  const hint = HINTS[code];
  return { code, message: hint ? `${line.trim()} (${hint})` : line.trim() };
}

export function isClaudeResult(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'result';
}

export function resultFromClaude(object: Record<string, unknown>): Result {
  const text = typeof object.result === 'string' ? object.result : '';
  const isError = object.is_error === true;
  const warnings: string[] = [];
  const denials = Array.isArray(object.permission_denials) ? (object.permission_denials as Denial[]) : [];
  if (denials.length > 0) {
    warnings.push(
      `claude was denied ${denials.length} tool call${denials.length > 1 ? 's' : ''}: ${denials.map(describeDenial).join(', ')}; allow them with allowed_tools (or the runtime's permissions)`,
    );
  }
  const errorCode = isError ? classifyClaudeError(text, object.api_error_status) : undefined;
  const hint = errorCode ? HINTS[errorCode] : undefined;
  return {
    output: text,
    isError,
    ...(errorCode ? { errorCode, errorMessage: hint ? `${text || 'claude reported an error'} (${hint})` : text } : {}),
    resumeToken: typeof object.session_id === 'string' ? object.session_id : undefined,
    costUsd: typeof object.total_cost_usd === 'number' ? object.total_cost_usd : undefined,
    usage: pickUsage(object.usage),
    turns: typeof object.num_turns === 'number' ? object.num_turns : undefined,
    warnings,
  };
}
