/**
 * A scripted fake of the Anthropic Messages API on 127.0.0.1, for tests that run a real agent CLI
 * (Claude Code) with ANTHROPIC_BASE_URL pointed here. node:http only.
 *
 * Replies come from the scripted function when it returns one, otherwise from defaults driven by the
 * request, so a test can script a run through its prompt alone:
 *   - the last user message holds tool_result blocks  → text `FAKE-OK: tool result: <first result's text>`
 *   - the last user text contains `[tool:NAME {json}]` → a tool_use block calling NAME with that input
 *   - the last user text contains `[http:NNN]`         → HTTP NNN with an Anthropic-style error body
 *   - the requested model is `does-not-exist`          → 404 not_found_error
 *   - otherwise                                        → text `FAKE-OK: <first 40 chars of the last user text>`
 * A request that asks for structured output (`output_config.format` json_schema, which Claude Code uses
 * for session titles) gets a JSON text that fits the schema before any of the above.
 *
 * Answers JSON or SSE (`stream: true`) in the same shapes as the real API. `HEAD /` (the CLI's
 * preconnect) and every other route get 404; `POST /v1/messages/count_tokens` is answered too.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { startScripted, type FixedUsage, type ScriptedServer, type ScriptedServerOptions } from './loopback.js';

export interface ModelRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: any;
  model: string | undefined;
  stream: boolean;
  /** Text of the last user message, without the `<system-reminder>` blocks Claude Code adds. */
  lastUserText: string;
  /** tool_result blocks of the last user message. */
  toolResults: Array<{ tool_use_id: string; content: string; is_error: boolean }>;
  /** Names of the tools the request offers the model. */
  toolNames: string[];
  /** Milliseconds since the epoch when the request arrived. */
  receivedAt: number;
  /** HTTP status the server answered with (set once the reply is chosen). */
  status?: number;
}

export type Reply =
  | { type: 'text'; text: string; delayMs?: number }
  | { type: 'tool_use'; name: string; input: unknown; text?: string; delayMs?: number }
  | { type: 'error'; status: number; errorType?: string; message?: string; delayMs?: number };

export type ReplyFn = (req: ModelRequest) => Reply | undefined;

export type ModelServer = ScriptedServer<ModelRequest, ReplyFn>;

export type ModelServerOptions = ScriptedServerOptions<ReplyFn>;

/** Error type the real API sends for each status. */
export const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const MESSAGES_PATH = '/v1/messages';
const COUNT_TOKENS_PATH = '/v1/messages/count_tokens';

export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  const { url, requests, setReply, close } = await startScripted<ModelRequest, Reply>({
    describe: describeRequest,
    log: options.log,
    preflight(request, { res, answer }) {
      const route = request.path.split('?')[0];
      if (request.method === 'POST' && route === COUNT_TOKENS_PATH) {
        answer(200, 'count_tokens');
        sendJson(res, 200, { input_tokens: estimateTokens(request.body) });
        return true;
      }
      if (request.method !== 'POST' || route !== MESSAGES_PATH) {
        answer(404, 'no such route');
        if (request.method === 'HEAD') {
          res.writeHead(404).end();
          return true;
        }
        sendError(res, 404, 'not_found_error', `Not found: ${request.method} ${route}`);
        return true;
      }
      if (!request.body || typeof request.body !== 'object') {
        answer(400, 'body is not JSON');
        sendError(res, 400, 'invalid_request_error', 'The request body is not valid JSON.');
        return true;
      }
      return false;
    },
    reply: options.reply,
    defaultReply,
    respond(request, reply, { res, answer }) {
      if (reply.type === 'error') {
        answer(reply.status, `${reply.errorType ?? errorTypeFor(reply.status)}`);
        sendError(res, reply.status, reply.errorType ?? errorTypeFor(reply.status), reply.message ?? `fake error ${reply.status}`);
        return;
      }
      answer(200, reply.type === 'text' ? `text ${JSON.stringify(reply.text.slice(0, 60))}` : `tool_use ${reply.name}`);
      const message = buildMessage(request, reply, options.usage);
      if (request.stream) sendStream(res, message);
      else sendJson(res, 200, message, { 'request-id': message.id.replace('msg_', 'req_') });
    },
  });

  return {
    url,
    requests,
    messages: () => requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === MESSAGES_PATH),
    setReply,
    close,
  };
}

/** The reply used when no scripted function answers. */
export function defaultReply(req: ModelRequest): Reply {
  const format = req.body?.output_config?.format;
  if (format?.type === 'json_schema') return { type: 'text', text: JSON.stringify(sampleFor(format.schema, 'value')) };
  if (req.toolResults.length > 0) return { type: 'text', text: `FAKE-OK: tool result: ${req.toolResults[0]!.content}` };
  const tool = parseToolDirective(req.lastUserText);
  if (tool) return { type: 'tool_use', name: tool.name, input: tool.input };
  const http = /\[http:(\d{3})\]/.exec(req.lastUserText);
  if (http) {
    const status = Number(http[1]);
    return { type: 'error', status, errorType: errorTypeFor(status), message: `fake error ${status}` };
  }
  if (req.model === 'does-not-exist') return { type: 'error', status: 404, errorType: 'not_found_error', message: `model: ${req.model}` };
  return { type: 'text', text: `FAKE-OK: ${req.lastUserText.slice(0, 40)}` };
}

export function errorTypeFor(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/**
 * Finds `[tool:NAME {json}]` (the JSON is optional and may hold `]` inside strings) and returns the
 * tool name and its parsed input, or undefined when there is none or the JSON does not parse.
 */
export function parseToolDirective(text: string): { name: string; input: unknown } | undefined {
  const start = /\[tool:([A-Za-z0-9_.:-]+)/g;
  for (let match = start.exec(text); match; match = start.exec(text)) {
    const name = match[1]!;
    let i = start.lastIndex;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text[i] === ']') return { name, input: {} };
    if (text[i] !== '{') continue;
    const end = endOfJsonObject(text, i);
    if (end < 0) continue;
    let j = end;
    while (j < text.length && /\s/.test(text[j]!)) j++;
    if (text[j] !== ']') continue;
    try {
      return { name, input: JSON.parse(text.slice(i, end)) };
    } catch {
      continue;
    }
  }
  return undefined;
}

/** Index just past the `}` that closes the object opening at `from`, or -1. */
function endOfJsonObject(text: string, from: number): number {
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return c === '}' ? i + 1 : -1;
    }
  }
  return -1;
}

function describeRequest(req: http.IncomingMessage, raw: string): ModelRequest {
  let body: any = undefined;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  const json = body && typeof body === 'object' ? body : undefined;
  const lastUser = Array.isArray(json?.messages) ? [...json.messages].reverse().find((m: any) => m?.role === 'user') : undefined;
  return {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers: { ...req.headers },
    body,
    model: typeof json?.model === 'string' ? json.model : undefined,
    stream: json?.stream === true,
    lastUserText: userText(lastUser?.content),
    toolResults: toolResults(lastUser?.content),
    toolNames: Array.isArray(json?.tools) ? json.tools.map((t: any) => t?.name).filter((n: unknown) => typeof n === 'string') : [],
    receivedAt: Date.now(),
  };
}

/** Text blocks of a user message, without system reminders; falls back to them if nothing else is there. */
function userText(content: unknown): string {
  if (typeof content === 'string') return stripReminders(content) || content.trim();
  if (!Array.isArray(content)) return '';
  const texts = content.filter((b: any) => b?.type === 'text' && typeof b.text === 'string').map((b: any) => b.text as string);
  const kept = texts.map(stripReminders).filter((t) => t.length > 0);
  return (kept.length > 0 ? kept : texts).join('\n').trim();
}

function stripReminders(text: string): string {
  return text.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, '').trim();
}

function toolResults(content: unknown): ModelRequest['toolResults'] {
  if (!Array.isArray(content)) return [];
  return content
    .filter((b: any) => b?.type === 'tool_result')
    .map((b: any) => ({
      tool_use_id: String(b.tool_use_id ?? ''),
      content:
        typeof b.content === 'string'
          ? b.content
          : Array.isArray(b.content)
            ? b.content
                .filter((c: any) => c?.type === 'text')
                .map((c: any) => c.text)
                .join('\n')
            : '',
      is_error: b.is_error === true,
    }));
}

/** A value that fits a JSON schema: enough for title and other structured-output requests. */
function sampleFor(schema: any, name: string): unknown {
  if (!schema || typeof schema !== 'object') return {};
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return `Fake ${name}`;
    case 'number':
    case 'integer':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'null':
      return null;
    default: {
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(schema.properties ?? {})) out[key] = sampleFor(sub, key);
      return out;
    }
  }
}

interface Message {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<{ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown }>;
  stop_reason: 'end_turn' | 'tool_use';
  stop_sequence: null;
  usage: { input_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number; output_tokens: number; service_tier: string };
}

function buildMessage(req: ModelRequest, reply: Exclude<Reply, { type: 'error' }>, fixed: FixedUsage | undefined): Message {
  const content: Message['content'] = [];
  if (reply.type === 'text') content.push({ type: 'text', text: reply.text });
  else {
    if (reply.text) content.push({ type: 'text', text: reply.text });
    content.push({ type: 'tool_use', id: `toolu_${id()}`, name: reply.name, input: reply.input ?? {} });
  }
  const outputTokens = Math.max(1, Math.ceil(JSON.stringify(content).length / 4));
  return {
    id: `msg_${id()}`,
    type: 'message',
    role: 'assistant',
    model: req.model ?? 'claude-fake',
    content,
    stop_reason: reply.type === 'tool_use' ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: fixed
      ? { input_tokens: fixed.input_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: fixed.cached_tokens ?? 0, output_tokens: fixed.output_tokens, service_tier: 'standard' }
      : { input_tokens: estimateTokens(req.body), cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens, service_tier: 'standard' },
  };
}

/** Server-sent events in the order and shapes the real API sends them. */
function sendStream(res: http.ServerResponse, message: Message): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'request-id': message.id.replace('msg_', 'req_'),
  });
  const event = (name: string, data: unknown): void => {
    res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  event('message_start', {
    type: 'message_start',
    message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...message.usage, output_tokens: 1 } },
  });
  event('ping', { type: 'ping' });
  message.content.forEach((block, index) => {
    if (block.type === 'text') {
      event('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const piece of split(block.text, 24)) event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
    } else {
      event('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const piece of split(JSON.stringify(block.input), 24))
        event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } });
    }
    event('content_block_stop', { type: 'content_block_stop', index });
  });
  event('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: {
      input_tokens: message.usage.input_tokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: message.usage.cache_read_input_tokens,
      output_tokens: message.usage.output_tokens,
    },
  });
  event('message_stop', { type: 'message_stop' });
  res.end();
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: number, type: string, message: string): void {
  const requestId = `req_${id()}`;
  sendJson(res, status, { type: 'error', error: { type, message }, request_id: requestId }, { 'request-id': requestId, 'x-should-retry': 'false' });
}

function split(text: string, size: number): string[] {
  if (text.length === 0) return [''];
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

function estimateTokens(body: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(body ?? '').length / 4));
}

function id(): string {
  return randomBytes(12).toString('base64url');
}
