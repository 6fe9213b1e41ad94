/** What every scripted model server shares: the HTTP plumbing, listening on 127.0.0.1, delayed replies, and a close that leaves nothing behind. */
import http, { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Runs `send` after `delayMs` (at once without one), remembering the timer so close() can cancel it. */
export function later(timers: Set<NodeJS.Timeout>, delayMs: number | undefined, send: () => void): void {
  if (!delayMs || delayMs <= 0) {
    send();
    return;
  }
  const timer = setTimeout(() => {
    timers.delete(timer);
    send();
  }, delayMs);
  timers.add(timer);
}

export async function listenOnLoopback(server: http.Server, timers: Set<NodeJS.Timeout>): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** A scripted model server as a test holds it. */
export interface ScriptedServer<R, F> {
  /** `http://127.0.0.1:PORT` (an OpenAI-style client wants `${url}/v1`). */
  readonly url: string;
  readonly requests: R[];
  /** Only the requests that asked for a conversation turn (token counts, titles and other routes left out). */
  messages(): R[];
  setReply(fn: F | undefined): void;
  close(): Promise<void>;
}

/** Usage every reply reports, in place of the server's own estimate (so that spend can be checked to the token). */
export interface FixedUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  /** Of the input, this many were read from the cache (OpenAI counts them inside input_tokens, Anthropic apart). */
  readonly cached_tokens?: number;
}

export interface ScriptedServerOptions<F> {
  reply?: F;
  usage?: FixedUsage;
  /** Called with a one-line summary of every request and its answer. */
  log?: (line: string) => void;
}

/** What the server records of every request. */
export interface RecordedExchange {
  readonly method: string;
  readonly path: string;
  /** HTTP status the server answered with (set once the reply is chosen). */
  status?: number;
}

export interface Exchange {
  readonly res: http.ServerResponse;
  /** Records the status of the answer (and logs a line about it). */
  answer(status: number, note: string): void;
}

/** The reply when a test's reply function throws: every API's reply type has this error shape. */
export interface FailureReply {
  readonly type: 'error';
  readonly status: number;
  readonly message: string;
}

/** One API's part of a scripted model server; the HTTP plumbing, the test's reply function and the timing are shared. */
export interface ScriptedApi<R extends RecordedExchange, P extends { readonly delayMs?: number | undefined }> {
  describe(req: http.IncomingMessage, body: string): R;
  /** Answers what is not a conversation turn (another route, a token count, a body that is not JSON); true when it did. */
  preflight(request: R, exchange: Exchange): boolean;
  /** The test's reply function, until setReply changes it; where it answers undefined, defaultReply does. */
  reply?: ((request: R) => P | undefined) | undefined;
  defaultReply(request: R): P;
  respond(request: R, reply: P, exchange: Exchange): void;
  log?: ((line: string) => void) | undefined;
}

/** Starts a scripted model server on 127.0.0.1: each request is recorded, answered by the API's part, after the reply's delay. */
export async function startScripted<R extends RecordedExchange, P extends { readonly delayMs?: number | undefined }>(
  // The API's reply type must have the failure shape, so a throwing reply function can be answered.
  api: ScriptedApi<R, P> & (FailureReply extends P ? unknown : never),
): Promise<{ url: string; requests: R[]; setReply: (fn: ((request: R) => P | undefined) | undefined) => void; close: () => Promise<void> }> {
  let scripted = api.reply;
  const requests: R[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = api.describe(req, Buffer.concat(chunks).toString('utf8'));
      requests.push(request);
      const exchange: Exchange = {
        res,
        answer(status, note) {
          request.status = status;
          api.log?.(`${request.method} ${request.path} → ${status} ${note}`);
        },
      };
      if (api.preflight(request, exchange)) return;
      let reply: P;
      try {
        reply = scripted?.(request) ?? api.defaultReply(request);
      } catch (error) {
        const failure: FailureReply = { type: 'error', status: 500, message: `scripted reply threw: ${String(error)}` };
        // Sound: the signature lets only reply types that hold the failure shape in.
        reply = failure as unknown as P;
      }
      later(timers, reply.delayMs, () => {
        if (!res.destroyed) api.respond(request, reply, exchange);
      });
    });
  });
  const { url, close } = await listenOnLoopback(server, timers);
  return {
    url,
    requests,
    setReply(fn) {
      scripted = fn;
    },
    close,
  };
}
