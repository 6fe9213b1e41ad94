/**
 * opencode's failures as fracta error codes. opencode reports a failed turn as one `error` line
 * (`error.name` and `error.data`: APIError with the HTTP status and the provider's message, UnknownError,
 * ProviderAuthError, ...; FractaRetryLimitError from the retry-limit plugin), and failures before a
 * session exists (a session id it does not know, a bad flag) on stderr only.
 */
import type { ErrorCode } from '../../errors.js';
import { RETRY_LIMIT_ERROR } from './retry-limit.js';

const HINTS: Partial<Record<ErrorCode, string>> = {
  auth_failed:
    'give the provider an API key (options.apiKey in its opencode config, or the key variable it reads in the runtime\'s env) or log in with `opencode auth login` as the user fracta runs as',
  unknown_model: 'pick a model the provider has, as provider/model (model, model_tiers or the spawn\'s model); opencode knows the models in its config and in the models.dev catalog',
  api_unreachable: 'check the provider\'s baseURL and the network; max_retries in fracta.yaml bounds how long opencode retries',
  rate_limited: 'wait and retry, or use a smaller model tier',
  session_not_found: 'resume with resume_run, which runs in the workspace the session started in',
};

export interface OpencodeError {
  readonly name?: unknown;
  readonly data?: { readonly message?: unknown; readonly statusCode?: unknown; readonly responseBody?: unknown; readonly metadata?: { readonly url?: unknown } };
}

/** What kind of failure opencode reported, from its error name, the HTTP status and the words. */
export function classifyOpencodeError(error: OpencodeError): ErrorCode {
  const status = error.data?.statusCode;
  const text = `${String(error.data?.message ?? '')} ${typeof error.data?.responseBody === 'string' ? error.data.responseBody : ''}`;
  if (error.name === 'ProviderAuthError' || status === 401 || status === 403 || /api key|unauthorized|authentication|invalid_api_key/i.test(text)) return 'auth_failed';
  if (status === 404 || error.name === 'ProviderModelNotFoundError' || /model_not_found|model.*(not found|does not exist)/i.test(text)) return 'unknown_model';
  if (status === 429 || /rate limit|too many requests|rate_limit/i.test(text)) return 'rate_limited';
  if (/cannot connect to api|unable to connect|econnrefused|fetch failed|getaddrinfo|enotfound/i.test(text)) return 'api_unreachable';
  if (typeof status === 'number' || error.name === 'APIError' || error.name === RETRY_LIMIT_ERROR) return 'api_error';
  return 'agent_error';
}

/** The error in words: opencode's message, the HTTP status when it did not say it, what to do. */
export function describeOpencodeError(error: OpencodeError, code: ErrorCode): string {
  const data = error.data ?? {};
  const name = typeof error.name === 'string' ? error.name : 'error';
  let message = typeof data.message === 'string' && data.message.trim() ? data.message.trim() : name;
  if (typeof data.statusCode === 'number' && !message.includes(String(data.statusCode))) message = `HTTP ${data.statusCode}: ${message}`;
  if (error.name === RETRY_LIMIT_ERROR) message = `${message} (gave up after ${retriesOf(error)} retries, the runtime's max_retries)`;
  else if (error.name === 'UnknownError') message = `opencode: ${message}`;
  const hint = HINTS[code];
  return hint ? `${message} (${hint})` : message;
}

function retriesOf(error: OpencodeError): string {
  const retries = (error.data as { retries?: unknown } | undefined)?.retries;
  return typeof retries === 'number' ? String(retries) : 'its';
}

/** A failure opencode reports on stderr only, such as a session it does not know. */
export function opencodeFailureFromStderr(stderr: string): { code: ErrorCode; message: string } | undefined {
  const lines = stderr.split('\n').map((line) => line.replace(/\x1b\[[0-9;]*m/g, '').trim());
  const session = lines.find((line) => /session not found/i.test(line));
  if (session) {
    return {
      code: 'session_not_found',
      message: `opencode: ${session.replace(/^error:?\s*/i, '')}: it knows the session only in the folder where it started, under the same HOME (${HINTS.session_not_found})`,
    };
  }
  const model = lines.find((line) => /model not found|ProviderModelNotFoundError/i.test(line));
  if (model) return { code: 'unknown_model', message: `opencode: ${model} (${HINTS.unknown_model})` };
  // opencode creates its database on first use; runs that start at once under a fresh HOME race to do it.
  const query = lines.findIndex((line) => /^Failed query:/i.test(line));
  if (query >= 0) {
    const statement = lines.slice(query + 1).find(Boolean) ?? '';
    return {
      code: 'agent_error',
      message: `opencode failed to set up its database (${lines[query]} ${statement.slice(0, 60)}…): this happens when several opencode runs start at once under a HOME where opencode never ran; run it once there first (opencode session list), then retry`,
    };
  }
  // An argument opencode does not know: it prints the usage of `run` and nothing else.
  if (lines.some((line) => line.startsWith('opencode run [message..]'))) {
    return { code: 'config_invalid', message: 'opencode printed its usage instead of running: it was given an argument it does not know (check extra_args in fracta.yaml)' };
  }
  return undefined;
}
