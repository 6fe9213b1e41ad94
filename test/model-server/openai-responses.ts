/**
 * A scripted fake of the OpenAI Responses API on 127.0.0.1, for tests that run the real Codex CLI
 * with a custom `model_providers` entry whose base_url points here. node:http only.
 *
 * Replies come from the scripted function when it returns one, otherwise from defaults driven by the
 * request, so a test can script a run through its prompt alone:
 *   - the input ends with function_call_output items    → text `FAKE-OK: tool result: <first output's text>`
 *   - the last user text contains `[tool:NAME {json}]`  → a function_call of NAME with that input
 *     (NAME `mcp__SERVER__TOOL` becomes a call inside the namespace tool `mcp__SERVER`, as Codex offers
 *     MCP tools; a bare name is a plain function such as `exec_command`)
 *   - the last user text contains `[http:NNN]`          → HTTP NNN with an OpenAI-style error body
 *   - the requested model is `does-not-exist`           → 404 model_not_found
 *   - otherwise                                         → text `FAKE-OK: <first 40 chars of the last user text>`
 *
 * Answers SSE (`stream: true`, what Codex always asks for) or JSON, in the real API's shapes. Every
 * other route gets 404.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseToolDirective } from './anthropic.js';
import { startScripted, type FixedUsage, type ScriptedServer, type ScriptedServerOptions } from './loopback.js';

export interface ModelRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: any;
  model: string | undefined;
  stream: boolean;
  /** Text of the last user message, without the context blocks Codex adds as user messages. */
  lastUserText: string;
  /** Every user text of the input, in order (the same filtering): what earlier turns said. */
  userTexts: string[];
  /** function_call_output items after the last user message: the results the model is waiting for. */
  toolResults: Array<{ call_id: string; content: string }>;
  /** Tools the request offers: plain functions by name, namespace tools as `NAMESPACE__TOOL`. */
  toolNames: string[];
  /** Milliseconds since the epoch when the request arrived. */
  receivedAt: number;
  /** HTTP status the server answered with (set once the reply is chosen). */
  status?: number;
}

export type Reply =
  | { type: 'text'; text: string; delayMs?: number }
  | { type: 'tool_call'; name: string; namespace?: string; input: unknown; text?: string; delayMs?: number }
  | { type: 'error'; status: number; errorType?: string; code?: string | null; message?: string; delayMs?: number }
  /** An HTTP 200 stream that ends in `response.failed` (an error the API reports mid-stream). */
  | { type: 'failed'; code?: string; message?: string; delayMs?: number };

export type ReplyFn = (req: ModelRequest) => Reply | undefined;

export type ModelServer = ScriptedServer<ModelRequest, ReplyFn>;

export type ModelServerOptions = ScriptedServerOptions<ReplyFn>;

/** The error type and code the real API sends for each status. */
export const ERRORS: Record<number, { type: string; code: string | null; message: (req: ModelRequest) => string }> = {
  400: { type: 'invalid_request_error', code: null, message: () => 'fake error 400' },
  401: {
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: () => 'Incorrect API key provided: sk-fake. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: () => 'fake error 403' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: (req) => `The model \`${req.model ?? ''}\` does not exist or you do not have access to it.` },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: () => 'Rate limit reached for fake-model: fake error 429. Please try again in 20s.' },
  500: { type: 'server_error', code: null, message: () => 'The server had an error while processing your request. Sorry about that! (fake error 500)' },
  503: { type: 'server_error', code: null, message: () => 'fake error 503' },
};

const RESPONSES_PATH = '/v1/responses';

export async function startResponsesServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  const { url, requests, setReply, close } = await startScripted<ModelRequest, Reply>({
    describe: describeRequest,
    log: options.log,
    preflight(request, { res, answer }) {
      const route = request.path.split('?')[0];
      if (request.method !== 'POST' || route !== RESPONSES_PATH) {
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
        const known = ERRORS[reply.status];
        const body = {
          type: reply.errorType ?? known?.type ?? (reply.status >= 500 ? 'server_error' : 'invalid_request_error'),
          code: reply.code !== undefined ? reply.code : (known?.code ?? null),
          message: reply.message ?? known?.message(request) ?? `fake error ${reply.status}`,
        };
        answer(reply.status, `${body.type}${body.code ? `/${body.code}` : ''}`);
        sendError(res, reply.status, body);
        return;
      }
      const response = buildResponse(request, reply, options.usage);
      answer(200, reply.type === 'text' ? `text ${JSON.stringify(reply.text.slice(0, 60))}` : reply.type === 'tool_call' ? `function_call ${reply.namespace ? `${reply.namespace}/` : ''}${reply.name}` : `response.failed ${reply.code ?? ''}`);
      if (request.stream) sendStream(res, response);
      else sendJson(res, 200, response, { 'x-request-id': `req_${id()}` });
    },
  });

  return {
    url,
    requests,
    messages: () => requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === RESPONSES_PATH),
    setReply,
    close,
  };
}

/** The reply used when no scripted function answers. */
export function defaultReply(req: ModelRequest): Reply {
  if (req.toolResults.length > 0) return { type: 'text', text: `FAKE-OK: tool result: ${req.toolResults[0]!.content}` };
  const tool = parseToolDirective(req.lastUserText);
  if (tool) return { type: 'tool_call', ...splitToolName(tool.name, req.body?.tools), input: tool.input };
  const http = /\[http:(\d{3})\]/.exec(req.lastUserText);
  if (http) return { type: 'error', status: Number(http[1]) };
  if (req.model === 'does-not-exist') return { type: 'error', status: 404 };
  return { type: 'text', text: `FAKE-OK: ${req.lastUserText.slice(0, 40)}` };
}

/**
 * `mcp__fracta__spawn` → the function `spawn` inside the namespace tool `mcp__fracta`, when the request
 * offers that namespace (or, offered or not, when the name has the `mcp__SERVER__TOOL` shape).
 */
export function splitToolName(name: string, tools: unknown): { name: string; namespace?: string } {
  for (const tool of Array.isArray(tools) ? tools : []) {
    if (tool?.type !== 'namespace' || !Array.isArray(tool.tools)) continue;
    const inner = tool.tools.find((fn: any) => `${tool.name}__${fn?.name}` === name);
    if (inner) return { namespace: String(tool.name), name: String(inner.name) };
  }
  if (Array.isArray(tools) && tools.some((tool: any) => tool?.name === name)) return { name };
  const match = /^(mcp__[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*)__(.+)$/.exec(name);
  return match ? { namespace: match[1]!, name: match[2]! } : { name };
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
  const input: any[] = Array.isArray(json?.input) ? json.input : typeof json?.input === 'string' ? [{ type: 'message', role: 'user', content: json.input }] : [];
  const userIndexes = input.flatMap((item, index) => (isUserMessage(item) && userText(item.content) ? [index] : []));
  const lastUser = userIndexes.at(-1) ?? -1;
  return {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers: { ...req.headers },
    body,
    model: typeof json?.model === 'string' ? json.model : undefined,
    stream: json?.stream === true,
    lastUserText: lastUser >= 0 ? userText(input[lastUser].content) : '',
    userTexts: userIndexes.map((index) => userText(input[index].content)),
    toolResults: input
      .slice(lastUser + 1)
      .filter((item) => item?.type === 'function_call_output' || item?.type === 'custom_tool_call_output')
      .map((item) => ({ call_id: String(item.call_id ?? ''), content: outputText(item.output) })),
    toolNames: toolNames(json?.tools),
    receivedAt: Date.now(),
  };
}

function isUserMessage(item: any): boolean {
  return item?.role === 'user' && (item.type === undefined || item.type === 'message');
}

/**
 * Codex sends its context as user messages of their own (`<environment_context>`, `<user_instructions>`,
 * AGENTS.md, skills): those are not what the user said.
 */
const CONTEXT_BLOCK = /^\s*(<(environment_context|user_instructions|INSTRUCTIONS|skills_instructions|turn_aborted|user_shell_command)\b[\s\S]*<\/\2>|# AGENTS\.md instructions[\s\S]*)\s*$/;

function userText(content: unknown): string {
  const texts =
    typeof content === 'string'
      ? [content]
      : Array.isArray(content)
        ? content.filter((part: any) => (part?.type === 'input_text' || part?.type === 'text') && typeof part.text === 'string').map((part: any) => part.text as string)
        : [];
  return texts
    .filter((text) => !CONTEXT_BLOCK.test(text))
    .join('\n')
    .trim();
}

/** A tool output is a string, or content items (MCP results), or an object with `content`. */
function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map((part: any) => (typeof part?.text === 'string' ? part.text : '')).filter(Boolean).join('\n');
  if (output && typeof output === 'object') {
    const object = output as { content?: unknown; body?: unknown };
    if (object.content !== undefined) return outputText(object.content);
    if (object.body !== undefined) return outputText(object.body);
  }
  return JSON.stringify(output ?? '');
}

function toolNames(tools: unknown): string[] {
  if (!Array.isArray(tools)) return [];
  return tools.flatMap((tool: any): string[] => {
    if (tool?.type === 'namespace' && Array.isArray(tool.tools)) {
      return tool.tools.map((inner: any) => `${tool.name}__${inner?.name}`);
    }
    return typeof tool?.name === 'string' ? [tool.name] : typeof tool?.type === 'string' ? [tool.type] : [];
  });
}

type OutputItem =
  | { type: 'message'; id: string; status: 'completed'; role: 'assistant'; content: Array<{ type: 'output_text'; text: string; annotations: [] }> }
  | { type: 'function_call'; id: string; status: 'completed'; call_id: string; name: string; namespace?: string; arguments: string };

interface Response {
  id: string;
  object: 'response';
  created_at: number;
  status: 'completed' | 'failed';
  model: string;
  output: OutputItem[];
  error: { code: string; message: string } | null;
  usage: {
    input_tokens: number;
    input_tokens_details: { cached_tokens: number };
    output_tokens: number;
    output_tokens_details: { reasoning_tokens: number };
    total_tokens: number;
  } | null;
}

function buildResponse(req: ModelRequest, reply: Exclude<Reply, { type: 'error' }>, fixed: FixedUsage | undefined): Response {
  const output: OutputItem[] = [];
  if (reply.type === 'text' || (reply.type === 'tool_call' && reply.text)) {
    output.push({ type: 'message', id: `msg_${id()}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: reply.text!, annotations: [] }] });
  }
  if (reply.type === 'tool_call') {
    output.push({
      type: 'function_call',
      id: `fc_${id()}`,
      status: 'completed',
      call_id: `call_${id()}`,
      name: reply.name,
      ...(reply.namespace ? { namespace: reply.namespace } : {}),
      arguments: JSON.stringify(reply.input ?? {}),
    });
  }
  const inputTokens = fixed?.input_tokens ?? estimateTokens(req.body);
  const outputTokens = fixed?.output_tokens ?? Math.max(1, Math.ceil(JSON.stringify(output).length / 4));
  const failed = reply.type === 'failed';
  return {
    id: `resp_${id()}`,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: failed ? 'failed' : 'completed',
    model: req.model ?? 'fake-model',
    output,
    error: failed ? { code: reply.code ?? 'server_error', message: reply.message ?? 'fake response.failed' } : null,
    usage: failed
      ? null
      : { input_tokens: inputTokens, input_tokens_details: { cached_tokens: fixed?.cached_tokens ?? 0 }, output_tokens: outputTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: inputTokens + outputTokens },
  };
}

/** Server-sent events in the order and shapes the real API sends them. */
function sendStream(res: http.ServerResponse, response: Response): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-request-id': `req_${id()}` });
  let sequence = 0;
  const event = (type: string, data: Record<string, unknown>): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...data })}\n\n`);
  };
  const pending = { ...response, status: 'in_progress', output: [], usage: null, error: null };
  event('response.created', { response: pending });
  event('response.in_progress', { response: pending });
  response.output.forEach((item, outputIndex) => {
    if (item.type === 'message') {
      event('response.output_item.added', { output_index: outputIndex, item: { ...item, status: 'in_progress', content: [] } });
      event('response.content_part.added', { item_id: item.id, output_index: outputIndex, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
      const text = item.content[0]!.text;
      for (const delta of split(text, 24)) event('response.output_text.delta', { item_id: item.id, output_index: outputIndex, content_index: 0, delta });
      event('response.output_text.done', { item_id: item.id, output_index: outputIndex, content_index: 0, text });
      event('response.content_part.done', { item_id: item.id, output_index: outputIndex, content_index: 0, part: item.content[0] });
    } else {
      event('response.output_item.added', { output_index: outputIndex, item: { ...item, status: 'in_progress', arguments: '' } });
      for (const delta of split(item.arguments, 24)) event('response.function_call_arguments.delta', { item_id: item.id, output_index: outputIndex, delta });
      event('response.function_call_arguments.done', { item_id: item.id, output_index: outputIndex, arguments: item.arguments });
    }
    event('response.output_item.done', { output_index: outputIndex, item });
  });
  event(response.status === 'failed' ? 'response.failed' : 'response.completed', { response });
  res.end();
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: number, error: { type: string; code: string | null; message: string }): void {
  sendJson(res, status, { error: { message: error.message, type: error.type, param: null, code: error.code } }, { 'x-request-id': `req_${id()}` });
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
  return randomBytes(12).toString('hex');
}
