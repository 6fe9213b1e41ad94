/**
 * What codex's failures mean. A failed turn says why in `turn.failed` (the API's own words, or
 * codex's for a status it knows); failures before any turn (a session that is not there, a missing
 * CODEX_HOME, an MCP server that did not start) are only on stderr.
 */
import type { ErrorCode } from '../../errors.js';

const HINTS: Partial<Record<ErrorCode, string>> = {
  auth_failed:
    'give the runtime its API key (the variable its provider.env_key names, or OPENAI_API_KEY, in env: of fracta.yaml) or log in with `codex login` as the user fracta runs as, with the same CODEX_HOME',
  unknown_model: "pick a model the provider serves (model, model_tiers or the spawn's model)",
  api_unreachable: "check the provider's base_url and the network; provider.max_retries in fracta.yaml bounds how long codex retries",
  rate_limited: 'wait and retry, or use a smaller model tier',
  api_error: "the API answered with an error: retry when it is the server's (5xx, high demand), else check the provider's base_url and the model",
  session_not_found: "resume with the thread_id of a codex session kept in the runtime's CODEX_HOME (resume_run finds it for you)",
  config_invalid: "fix the runtime's settings in fracta.yaml",
};

function withHint(code: ErrorCode, message: string): { code: ErrorCode; message: string } {
  const hint = HINTS[code];
  return { code, message: hint ? `${message} (${hint})` : message };
}

/** What kind of failure codex reported in a turn.failed or error line. */
export function classifyCodexError(message: string): ErrorCode {
  if (/\b(401|403)\b|unauthorized|forbidden|incorrect api key|invalid api key|missing environment variable|not logged in|authentication/i.test(message)) return 'auth_failed';
  if (/model .*(does not exist|not found|not supported)|model_not_found|unknown model/i.test(message)) return 'unknown_model';
  if (/\b429\b|rate limit|too many requests|quota/i.test(message)) return 'rate_limited';
  if (/connection failed|error sending request|failed to lookup address|connection refused|connection reset|timed out|waiting for network/i.test(message)) return 'api_unreachable';
  if (/no rollout found|thread not found|no session|session .*not found/i.test(message)) return 'session_not_found';
  // "stream disconnected before completion: <message>" is how codex reports a response.failed event.
  if (/unexpected status|high demand|\{"error"|stream disconnected|server error|bad request|internal error/i.test(message)) return 'api_error';
  return 'agent_error';
}

export function codexError(message: string): { code: ErrorCode; message: string } {
  return withHint(classifyCodexError(message), message);
}

/** stderr lines that say why codex stopped before (or instead of) a turn. */
const STDERR_FAILURES: Array<{ pattern: RegExp; code: ErrorCode; hint?: string }> = [
  { pattern: /no rollout found for thread id/i, code: 'session_not_found' },
  {
    pattern: /CODEX_HOME points to .*does not exist/i,
    code: 'config_invalid',
    hint: 'codex needs CODEX_HOME to be an existing folder: create it, or remove CODEX_HOME from the runtime\'s env to use ~/.codex',
  },
  {
    pattern: /required MCP servers failed to initialize/i,
    code: 'config_invalid',
    hint: "an MCP server the runtime gives codex did not start: check its command in mcp_servers (or, for fracta's own, that fracta itself starts)",
  },
  { pattern: /Not inside a trusted directory/i, code: 'config_invalid' },
  { pattern: /error loading config|invalid configuration|unknown variant|invalid type:/i, code: 'config_invalid' },
];

export function codexFailureFromStderr(stderr: string): { code: ErrorCode; message: string } | undefined {
  const lines = stderr.split('\n').map((line) => line.trim()).filter(Boolean);
  for (const { pattern, code, hint } of STDERR_FAILURES) {
    // The last matching line: codex logs the same failure more than once, the final one is the summary.
    const line = [...lines].reverse().find((candidate) => pattern.test(candidate));
    if (!line) continue;
    const message = line.replace(/^Error:\s*/, '');
    return hint ? { code, message: `${message} (${hint})` } : withHint(code, message);
  }
  return undefined;
}
