/**
 * A scripted fake of the OpenAI Chat Completions API on 127.0.0.1, for tests that run a real agent CLI
 * that speaks it (OpenCode through `@ai-sdk/openai-compatible`, with the provider's `baseURL` pointed at
 * `<url>/v1`). node:http only.
 *
 * Replies come from the scripted function when it returns one, otherwise from defaults driven by the
 * request, so a test can script a run through its prompt alone:
 *   - no `Authorization: Bearer <key>` header                  → 401 "You didn't provide an API key…"
 *   - a title request (no tools, a system prompt about titles) → a short title text
 *   - the conversation ends with tool messages                 → text `FAKE-OK: tool result: <first result's text>`
 *   - the last user text contains `[tool:NAME {json}]`         → a tool call of NAME with that input
 *   - the last user text contains `[http:NNN]`                 → HTTP NNN with an OpenAI-style error body
 *   - the requested model is `does-not-exist`                  → 404 model_not_found
 *   - otherwise                                                → text `FAKE-OK: <first 40 chars of the last user text>`
 *
 * Answers JSON or SSE (`stream: true`: content deltas, a chunk with the finish reason, a usage chunk when
 * `stream_options.include_usage` asks for one, then `data: [DONE]`) in the shapes of the real API.
 * `GET /v1/models` lists the models seen so far; every other route gets 404.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseToolDirective } from './anthropic.js';
import { startScripted, type FixedUsage, type ScriptedServer, type ScriptedServerOptions } from './loopback.js';

export { parseToolDirective };

export interface ChatRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: any;
  model: string | undefined;
  stream: boolean;
  /** Text of the system messages, joined. */
  systemText: string;
  /** Text of the last user message. */
  lastUserText: string;
  /** The tool messages that end the conversation (the results of the model's last tool calls). */
  toolResults: Array<{ tool_call_id: string; content: string }>;
  /** Names of the tools the request offers the model. */
  toolNames: string[];
  /** Whether this looks like the CLI asking for a session title (no tools, a title system prompt). */
  isTitle: boolean;
  /** Milliseconds since the epoch when the request arrived. */
  receivedAt: number;
  /** HTTP status the server answered with (set once the reply is chosen). */
  status?: number;
}

export type Reply =
  | { type: 'text'; text: string; delayMs?: number }
  | { type: 'tool_use'; name: string; input: unknown; text?: string; delayMs?: number }
  | { type: 'error'; status: number; errorType?: string; code?: string | null; message?: string; headers?: Record<string, string>; delayMs?: number };

export type ReplyFn = (req: ChatRequest) => Reply | undefined;

export type ChatServer = ScriptedServer<ChatRequest, ReplyFn>;

export type ChatServerOptions = ScriptedServerOptions<ReplyFn>;

/** The error `type` and `code` the real API sends for each status. */
export const ERRORS: Record<number, { type: string; code: string | null; message?: string }> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided (fake error 401)' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory' },
  404: { type: 'invalid_request_error', code: 'model_not_found' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests (fake error 429)' },
  500: { type: 'server_error', code: null, message: 'The server had an error while processing your request (fake error 500)' },
  503: { type: 'server_error', code: null },
};

export const NO_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";

const COMPLETIONS_PATH = '/v1/chat/completions';
const MODELS_PATH = '/v1/models';

export async function startOpenAIChatServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  const { url, requests, setReply, close } = await startScripted<ChatRequest, Reply>({
    describe: describeRequest,
    log: options.log,
    preflight(request, { res, answer }) {
      const route = request.path.split('?')[0];
      if (request.method === 'GET' && route === MODELS_PATH) {
        answer(200, 'models');
        const seen = [...new Set(requests.map((r) => r.model).filter((m): m is string => !!m))];
        sendJson(res, 200, { object: 'list', data: seen.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })) });
        return true;
      }
      if (request.method !== 'POST' || route !== COMPLETIONS_PATH) {
        answer(404, 'no such route');
        sendError(res, 404, { type: 'invalid_request_error', code: null, message: `Invalid URL (${request.method} ${route})` });
        return true;
      }
      if (!request.body || typeof request.body !== 'object') {
        answer(400, 'body is not JSON');
        sendError(res, 400, { type: 'invalid_request_error', code: null, message: 'We could not parse the JSON body of your request.' });
        return true;
      }
      return false;
    },
    reply: options.reply,
    defaultReply,
    respond(request, reply, { res, answer }) {
      if (reply.type === 'error') {
        const known = ERRORS[reply.status] ?? { type: reply.status >= 500 ? 'server_error' : 'invalid_request_error', code: null };
        const type = reply.errorType ?? known.type;
        answer(reply.status, type);
        const message = reply.message ?? known.message ?? `fake error ${reply.status}`;
        sendError(res, reply.status, { type, code: reply.code === undefined ? known.code : reply.code, message }, reply.headers);
        return;
      }
      answer(200, reply.type === 'text' ? `text ${JSON.stringify(reply.text.slice(0, 60))}` : `tool call ${reply.name}`);
      const completion = buildCompletion(request, reply, options.usage);
      if (request.stream) sendStream(res, completion, request.body?.stream_options?.include_usage === true);
      else sendJson(res, 200, completion, { 'x-request-id': `req_${id()}` });
    },
  });

  return {
    url,
    requests,
    messages: () => requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === COMPLETIONS_PATH && !r.isTitle),
    setReply,
    close,
  };
}

/** The reply used when no scripted function answers. */
export function defaultReply(req: ChatRequest): Reply {
  if (!/^Bearer \S+/.test(String(req.headers.authorization ?? ''))) return { type: 'error', status: 401, code: null, message: NO_KEY_MESSAGE };
  if (req.isTitle) return { type: 'text', text: 'Fake title' };
  if (req.toolResults.length > 0) return { type: 'text', text: `FAKE-OK: tool result: ${req.toolResults[0]!.content}` };
  const tool = parseToolDirective(req.lastUserText);
  if (tool) return { type: 'tool_use', name: tool.name, input: tool.input };
  const http = /\[http:(\d{3})\]/.exec(req.lastUserText);
  if (http) return { type: 'error', status: Number(http[1]) };
  if (req.model === 'does-not-exist') {
    return { type: 'error', status: 404, message: `The model \`${req.model}\` does not exist or you do not have access to it.` };
  }
  return { type: 'text', text: `FAKE-OK: ${req.lastUserText.slice(0, 40)}` };
}

function describeRequest(req: http.IncomingMessage, raw: string): ChatRequest {
  let body: any = undefined;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  const json = body && typeof body === 'object' ? body : undefined;
  const messages: any[] = Array.isArray(json?.messages) ? json.messages : [];
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  const trailingTools: any[] = [];
  for (let i = messages.length - 1; i >= 0 && messages[i]?.role === 'tool'; i--) trailingTools.unshift(messages[i]);
  const toolNames: string[] = Array.isArray(json?.tools)
    ? json.tools.map((t: any) => t?.function?.name ?? t?.name).filter((n: unknown): n is string => typeof n === 'string')
    : [];
  const systemText = messages
    .filter((m) => m?.role === 'system' || m?.role === 'developer')
    .map((m) => textOf(m.content))
    .join('\n');
  return {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers: { ...req.headers },
    body,
    model: typeof json?.model === 'string' ? json.model : undefined,
    stream: json?.stream === true,
    systemText,
    lastUserText: textOf(lastUser?.content).trim(),
    toolResults: trailingTools.map((m) => ({ tool_call_id: String(m.tool_call_id ?? ''), content: textOf(m.content) })),
    toolNames,
    isTitle: json !== undefined && toolNames.length === 0 && /\btitle\b/i.test(systemText),
    receivedAt: Date.now(),
  };
}

/** A message's content: a string, or the text of its parts. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((part: any) => part?.type === 'text' && typeof part.text === 'string')
    .map((part: any) => part.text as string)
    .join('\n');
}

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface Completion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{ index: 0; message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }; finish_reason: 'stop' | 'tool_calls' }>;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

function buildCompletion(req: ChatRequest, reply: Exclude<Reply, { type: 'error' }>, fixed: FixedUsage | undefined): Completion {
  const toolCalls: ToolCall[] =
    reply.type === 'tool_use' ? [{ id: `call_${id()}`, type: 'function', function: { name: reply.name, arguments: JSON.stringify(reply.input ?? {}) } }] : [];
  const content = reply.type === 'text' ? reply.text : (reply.text ?? null);
  const promptTokens = fixed?.input_tokens ?? estimateTokens(req.body);
  const completionTokens = fixed?.output_tokens ?? Math.max(1, Math.ceil(JSON.stringify([content, toolCalls]).length / 4));
  return {
    id: `chatcmpl-${id()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: req.model ?? 'gpt-fake',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
      },
    ],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

/** Server-sent chunks in the order and shapes the real API sends them. */
function sendStream(res: http.ServerResponse, completion: Completion, includeUsage: boolean): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': `req_${id()}`,
  });
  const base = { id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model, system_fingerprint: 'fp_fake' };
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): void => {
    res.write(`data: ${JSON.stringify({ ...base, choices, ...extra })}\n\n`);
  };
  const [choice] = completion.choices;
  const { content, tool_calls: toolCalls = [] } = choice!.message;
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
  for (const piece of content ? split(content, 24) : []) chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]);
  toolCalls.forEach((call, index) => {
    chunk([{ index: 0, delta: { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }, logprobs: null, finish_reason: null }]);
    for (const piece of split(call.function.arguments, 24)) {
      chunk([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }]);
    }
  });
  chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: choice!.finish_reason }]);
  if (includeUsage) chunk([], { usage: completion.usage });
  res.write('data: [DONE]\n\n');
  res.end();
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: number, error: { type: string; code: string | null; message: string }, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { message: error.message, type: error.type, param: null, code: error.code } }, { 'x-request-id': `req_${id()}`, ...headers });
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
