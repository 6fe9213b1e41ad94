/**
 * A scripted fake of the Gemini API (generativelanguage v1beta) on 127.0.0.1, for tests that run a real
 * agent CLI (Gemini CLI) with GOOGLE_GEMINI_BASE_URL pointed here. node:http only.
 *
 * Replies come from the scripted function when it returns one, otherwise from defaults driven by the
 * request, so a test can script a run through its prompt alone:
 *   - a request for JSON (`generationConfig.responseJsonSchema`: the CLI's model router, its next-speaker
 *     check)                                            → a JSON text that fits the schema
 *   - the last user turn holds functionResponse parts   → text `FAKE-OK: tool result: <first response's text>`
 *   - the last user text contains `[tool:NAME {json}]`  → a functionCall of NAME with those args
 *   - the last user text contains `[http:NNN]`          → HTTP NNN with a Google-style error body
 *   - the requested model is `does-not-exist`           → 404 NOT_FOUND, worded like the real API
 *   - otherwise                                         → text `FAKE-OK: <first 40 chars of the last user text>`
 * "The last user text" leaves out the `<session_context>` part the CLI sends along with the first prompt.
 *
 * Routes: `POST /v1beta/models/{model}:generateContent` (one JSON response) and
 * `:streamGenerateContent?alt=sse` (server-sent `data:` chunks: the text in pieces, then the finish
 * reason with usageMetadata), plus `:countTokens`. Every other route gets 404.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseToolDirective } from './anthropic.js';
import { startScripted, type FixedUsage, type ScriptedServer, type ScriptedServerOptions } from './loopback.js';

export { parseToolDirective };

export interface GeminiRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: any;
  /** From the path: `models/{model}:{method}`. */
  model: string | undefined;
  /** generateContent, streamGenerateContent, countTokens, ... */
  rpc: string | undefined;
  stream: boolean;
  /** The JSON schema the request asks the answer to fit (router, next-speaker check), if any. */
  jsonSchema: any;
  /** Text parts of the last user turn that carries text (functionResponse turns are skipped). */
  lastUserText: string;
  /** functionResponse parts of the last turn, when it is the user's answer to function calls. */
  toolResults: Array<{ id: string | undefined; name: string; content: string }>;
  /** Names of the functions the request offers the model. */
  toolNames: string[];
  /** Milliseconds since the epoch when the request arrived. */
  receivedAt: number;
  /** HTTP status the server answered with (set once the reply is chosen). */
  status?: number;
}

export type Reply =
  | { type: 'text'; text: string; delayMs?: number }
  | { type: 'tool_use'; name: string; input: unknown; text?: string; delayMs?: number }
  | { type: 'error'; status: number; errorStatus?: string; message?: string; delayMs?: number };

export type ReplyFn = (req: GeminiRequest) => Reply | undefined;

export type GeminiServer = ScriptedServer<GeminiRequest, ReplyFn>;

export type GeminiServerOptions = ScriptedServerOptions<ReplyFn>;

/** The `status` word Google APIs put in an error body for each HTTP status. */
export const ERROR_STATUSES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const ROUTE = /^\/v1beta\/models\/([^/:]+):([A-Za-z]+)$/;
const CONTENT_METHODS = new Set(['generateContent', 'streamGenerateContent']);

export async function startGeminiServer(options: GeminiServerOptions = {}): Promise<GeminiServer> {
  const { url, requests, setReply, close } = await startScripted<GeminiRequest, Reply>({
    describe: describeRequest,
    log: options.log,
    preflight(request, { res, answer }) {
      if (request.method === 'POST' && request.rpc === 'countTokens') {
        answer(200, 'countTokens');
        sendJson(res, 200, { totalTokens: estimateTokens(request.body) });
        return true;
      }
      if (request.method !== 'POST' || !request.rpc || !CONTENT_METHODS.has(request.rpc)) {
        answer(404, 'no such route');
        sendError(res, 404, `Not found: ${request.method} ${request.path.split('?')[0]}`);
        return true;
      }
      if (!request.body || typeof request.body !== 'object') {
        answer(400, 'body is not JSON');
        sendError(res, 400, 'Invalid JSON payload received.');
        return true;
      }
      return false;
    },
    reply: options.reply,
    defaultReply,
    respond(request, reply, { res, answer }) {
      if (reply.type === 'error') {
        answer(reply.status, reply.errorStatus ?? statusFor(reply.status));
        sendError(res, reply.status, reply.message ?? `fake error ${reply.status}`, reply.errorStatus);
        return;
      }
      answer(200, reply.type === 'text' ? `text ${JSON.stringify(reply.text.slice(0, 60))}` : `functionCall ${reply.name}`);
      const response = buildResponse(request, reply, options.usage);
      if (request.stream) sendStream(res, response);
      else sendJson(res, 200, response);
    },
  });

  return {
    url,
    requests,
    messages: () => requests.filter((r) => r.method === 'POST' && r.rpc !== undefined && CONTENT_METHODS.has(r.rpc) && !r.jsonSchema),
    setReply,
    close,
  };
}

/** The reply used when no scripted function answers. */
export function defaultReply(req: GeminiRequest): Reply {
  if (req.jsonSchema) return { type: 'text', text: JSON.stringify(sampleFor(req.jsonSchema, 'value')) };
  if (req.toolResults.length > 0) return { type: 'text', text: `FAKE-OK: tool result: ${req.toolResults[0]!.content}` };
  const tool = parseToolDirective(req.lastUserText);
  if (tool) return { type: 'tool_use', name: tool.name, input: tool.input };
  const http = /\[http:(\d{3})\]/.exec(req.lastUserText);
  if (http) return { type: 'error', status: Number(http[1]), message: `fake error ${http[1]}` };
  if (req.model === 'does-not-exist') {
    return {
      type: 'error',
      status: 404,
      message: `models/${req.model} is not found for API version v1beta, or is not supported for ${req.rpc ?? 'generateContent'}. Call ListModels to see the list of available models and their supported methods.`,
    };
  }
  return { type: 'text', text: `FAKE-OK: ${req.lastUserText.slice(0, 40)}` };
}

export function statusFor(status: number): string {
  return ERROR_STATUSES[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
}

type Part = { text?: unknown; thought?: unknown; functionCall?: any; functionResponse?: any };
type Content = { role?: unknown; parts?: Part[] };

function describeRequest(req: http.IncomingMessage, raw: string): GeminiRequest {
  let body: any = undefined;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  const json = body && typeof body === 'object' ? body : undefined;
  const url = req.url ?? '/';
  const [route, query = ''] = url.split('?');
  const match = ROUTE.exec(route!);
  const contents: Content[] = Array.isArray(json?.contents) ? json.contents : [];
  const userTurns = contents.filter((c) => c?.role === 'user' && Array.isArray(c.parts));
  const lastTextTurn = [...userTurns].reverse().find((c) => c.parts!.some((p) => typeof p?.text === 'string' && !p.thought));
  const lastTurn = contents.at(-1);
  const generation = json?.generationConfig ?? {};
  return {
    method: req.method ?? 'GET',
    path: url,
    headers: { ...req.headers },
    body,
    model: match ? decodeURIComponent(match[1]!) : undefined,
    rpc: match?.[2],
    stream: match?.[2] === 'streamGenerateContent' || /(^|&)alt=sse(&|$)/.test(query),
    jsonSchema: generation.responseJsonSchema ?? generation.responseSchema ?? (generation.responseMimeType === 'application/json' ? {} : undefined),
    lastUserText: userText(lastTextTurn?.parts ?? []),
    toolResults:
      lastTurn?.role === 'user' && Array.isArray(lastTurn.parts)
        ? lastTurn.parts.filter((p) => p?.functionResponse).map((p) => ({
            id: typeof p.functionResponse.id === 'string' ? p.functionResponse.id : undefined,
            name: String(p.functionResponse.name ?? ''),
            content: responseText(p.functionResponse.response),
          }))
        : [],
    toolNames: (Array.isArray(json?.tools) ? json.tools : []).flatMap((tool: any) =>
      (Array.isArray(tool?.functionDeclarations) ? tool.functionDeclarations : []).map((f: any) => f?.name).filter((n: unknown) => typeof n === 'string'),
    ),
    receivedAt: Date.now(),
  };
}

/** Text parts of a user turn without the `<session_context>` part the CLI puts before the first prompt. */
function userText(parts: Part[]): string {
  const texts = parts.filter((p) => typeof p?.text === 'string' && !p.thought).map((p) => (p.text as string).trim());
  const kept = texts.filter((t) => t.length > 0 && !/^<session_context>[\s\S]*<\/session_context>$/.test(t));
  return (kept.length > 0 ? kept : texts).join('\n').trim();
}

/** What a function returned, as text: the CLI sends `{output: "..."}` (or `{error: "..."}`) for its tools. */
function responseText(response: unknown): string {
  if (typeof response === 'string') return response;
  if (response && typeof response === 'object') {
    const record = response as Record<string, unknown>;
    for (const key of ['output', 'error', 'content', 'result']) {
      const value = record[key];
      if (typeof value === 'string') return value;
      if (Array.isArray(value)) {
        const texts = value.map((item: any) => (typeof item?.text === 'string' ? item.text : '')).filter(Boolean);
        if (texts.length > 0) return texts.join('\n');
      }
    }
    return JSON.stringify(response);
  }
  return '';
}

/** A value that fits a JSON schema: enough for the router and the next-speaker check. */
function sampleFor(schema: any, name: string): unknown {
  if (!schema || typeof schema !== 'object') return {};
  if (schema.const !== undefined) return schema.const;
  // The next-speaker check must hand the turn back to the user, or the CLI keeps talking to itself.
  if (name === 'next_speaker') return 'user';
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const type = String(Array.isArray(schema.type) ? schema.type[0] : schema.type ?? '').toLowerCase();
  switch (type) {
    case 'string':
      return `Fake ${name}`;
    case 'number':
    case 'integer':
      return typeof schema.minimum === 'number' ? Math.max(schema.minimum, 1) : 1;
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

interface GenerateContentResponse {
  candidates: Array<{ content: { role: 'model'; parts: Part[] }; finishReason?: string; index: number }>;
  usageMetadata: { promptTokenCount: number; candidatesTokenCount: number; totalTokenCount: number };
  modelVersion: string;
  responseId: string;
}

function buildResponse(req: GeminiRequest, reply: Exclude<Reply, { type: 'error' }>, fixed: FixedUsage | undefined): GenerateContentResponse {
  const parts: Part[] = [];
  if (reply.type === 'text') parts.push({ text: reply.text });
  else {
    if (reply.text) parts.push({ text: reply.text });
    parts.push({ functionCall: { name: reply.name, args: reply.input ?? {} } });
  }
  const promptTokenCount = fixed?.input_tokens ?? estimateTokens(req.body);
  const candidatesTokenCount = fixed?.output_tokens ?? Math.max(1, Math.ceil(JSON.stringify(parts).length / 4));
  return {
    candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount, candidatesTokenCount, totalTokenCount: promptTokenCount + candidatesTokenCount },
    modelVersion: req.model ?? 'gemini-fake',
    responseId: id(),
  };
}

/** Server-sent events as the real API sends them: text in pieces, the last chunk with finish reason and usage. */
function sendStream(res: http.ServerResponse, response: GenerateContentResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const chunk = (parts: Part[], last: boolean): void => {
    const candidate = { content: { role: 'model', parts }, ...(last ? { finishReason: 'STOP' } : {}), index: 0 };
    const data = {
      candidates: [candidate],
      ...(last ? { usageMetadata: response.usageMetadata } : {}),
      modelVersion: response.modelVersion,
      responseId: response.responseId,
    };
    res.write(`data: ${JSON.stringify(data)}\r\n\r\n`);
  };
  const parts = response.candidates[0]!.content.parts;
  const pieces: Part[][] = [];
  for (const part of parts) {
    if (typeof part.text === 'string') for (const piece of split(part.text, 24)) pieces.push([{ text: piece }]);
    else pieces.push([part]);
  }
  pieces.forEach((piece, i) => chunk(piece, i === pieces.length - 1));
  res.end();
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Google's error body: `{error: {code, message, status}}`. */
function sendError(res: http.ServerResponse, status: number, message: string, errorStatus?: string): void {
  sendJson(res, status, { error: { code: status, message, status: errorStatus ?? statusFor(status) } });
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
