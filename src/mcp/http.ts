/**
 * `fracta mcp --http [HOST:]PORT`: the same tools over MCP's Streamable HTTP transport, for several
 * clients at once on one core (one queue, one set of runs). Each client gets its own MCP session (an
 * SDK Server and transport); the runs outlive the session that started them.
 *
 * What stands in front of the SDK's transport, in order, each answered before anything else runs:
 * the path (/mcp), the Host header (DNS rebinding: a page on evil.example resolving to 127.0.0.1),
 * the Origin header (a browser page of another origin), the bearer token, and the body's size.
 * node:http rather than a framework: one route, and every check above must come before any routing
 * a framework would do.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FractaOptions } from '../service.js';
import { coreLoader, createServer, guardStdout, reportAtStart } from './server.js';
import { AccessToken } from '../access-token.js';

export const MCP_PATH = '/mcp';
const DEFAULT_HOST = '127.0.0.1';

/** A request body is one JSON-RPC message (or a batch): a task of several MB fits, a flood does not. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Sessions held at once; a client that never says goodbye is dropped after IDLE_MS without a request. */
const MAX_SESSIONS = 64;
const IDLE_MS = 60 * 60 * 1000;
/** A token shorter than this is guessable. */
const MIN_TOKEN_LENGTH = 16;

export interface Listen {
  readonly host: string;
  readonly port: number;
}

export interface HttpServeOptions extends Listen {
  /** The bearer token every request must carry. */
  readonly token: string;
  /** Serve on an address other hosts can reach. */
  readonly allowRemote: boolean;
  /** Browser origins allowed besides the server's own loopback ones. */
  readonly allowedOrigins: readonly string[];
  /** Said on stderr once the server listens, before the serving line (how to get the token). */
  readonly banner?: string | undefined;
}

export class HttpUsageError extends Error {}

/** `8765`, `127.0.0.1:8765`, `[::1]:8765`, `localhost:8765`. */
export function parseListen(value: string): Listen {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new HttpUsageError(`--http: "${value}" is not [HOST:]PORT (for example 8765 or 127.0.0.1:8765)`);
  }
  const host = match[1] ? match[1].replace(/^\[|\]$/g, '') : DEFAULT_HOST;
  return { host, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return net.isIPv6(host) && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}

/**
 * The token: read from --token-file (made there, mode 0600, when the file does not exist yet), or
 * made for this process alone. Never written to a log; `generated` says whether to show it once.
 */
export function loadToken(tokenFile: string | undefined): { token: string; generated: boolean; wrote?: string } {
  if (tokenFile === undefined) return { token: randomBytes(32).toString('base64url'), generated: true };
  const file = path.resolve(tokenFile);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new HttpUsageError(`--token-file: cannot read ${file}: ${(error as Error).message}`);
    const token = randomBytes(32).toString('base64url');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
    return { token, generated: false, wrote: file };
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new HttpUsageError(`--token-file: ${file} must hold one token of at least ${MIN_TOKEN_LENGTH} characters and no spaces (delete it and fracta makes one)`);
  }
  return { token, generated: false };
}

/** A refusal with a JSON-RPC error body, as the Streamable HTTP transport answers its own. */
function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
}

/** Reads the body up to MAX_BODY_BYTES; undefined when it was too big (already answered). */
async function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      refuse(res, 413, `the request is over ${MAX_BODY_BYTES} bytes`, { connection: 'close' });
      req.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly close: () => Promise<void>;
  lastSeen: number;
  inFlight: number;
}

export async function runHttpServer(options: FractaOptions, serve: HttpServeOptions): Promise<void> {
  guardStdout();
  if (!isLoopback(serve.host) && !serve.allowRemote) {
    throw new HttpUsageError(
      `--http: ${serve.host} is not a loopback address: anyone who reaches it could run agents as you. Serve on 127.0.0.1 (the default), or pass --allow-remote (the token is still required)`,
    );
  }
  const { core, loaded } = coreLoader(options);
  const sessions = new Map<string, Session>();
  const token = new AccessToken(serve.token);
  let port = serve.port;

  const ownHosts = () => [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, ...(isLoopback(serve.host) ? [] : [`${serve.host}:${port}`])];
  const ownOrigins = () => ownHosts().map((host) => `http://${host}`);

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match !== null && token.matches(match[1]);
  };

  const openSession = async (): Promise<Session> => {
    const { server, detach } = createServer(core, options);
    let session: Session | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (session) sessions.set(id, session);
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
        detach();
      },
    });
    session = {
      transport,
      lastSeen: Date.now(),
      inFlight: 0,
      close: async () => {
        detach();
        await server.close().catch(() => undefined);
      },
    };
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      detach();
    };
    await server.connect(transport);
    return session;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fracta.invalid');
    if (url.pathname !== MCP_PATH) return refuse(res, 404, `not found: fracta serves MCP at ${MCP_PATH}`);
    // A name that resolves to this host but is not it is a DNS rebinding attempt.
    if (!serve.allowRemote && !ownHosts().includes(req.headers.host ?? '')) return refuse(res, 403, `Host "${req.headers.host ?? ''}" is not this server's (use http://127.0.0.1:${port}${MCP_PATH})`);
    const origin = req.headers.origin;
    if (origin !== undefined && !ownOrigins().includes(origin) && !serve.allowedOrigins.includes(origin)) {
      return refuse(res, 403, `Origin "${origin}" is not allowed (start fracta with --allow-origin ${origin} to allow it)`);
    }
    if (!authorized(req)) {
      return refuse(res, 401, 'missing or wrong bearer token: send "Authorization: Bearer TOKEN" with the token fracta mcp --http printed or its --token-file holds', {
        'www-authenticate': 'Bearer realm="fracta"',
      });
    }
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, res);
      if (raw === undefined) return;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error: the body is not JSON' }, id: null }));
        return;
      }
    }
    const sessionId = req.headers['mcp-session-id'];
    let session: Session | undefined;
    if (typeof sessionId === 'string') {
      session = sessions.get(sessionId);
      if (!session) return refuse(res, 404, 'Session not found: initialize a new one');
    } else if (req.method === 'POST' && (isInitializeRequest(body) || (Array.isArray(body) && body.some(isInitializeRequest)))) {
      if (sessions.size >= MAX_SESSIONS) return refuse(res, 503, `fracta holds ${MAX_SESSIONS} sessions already: close one (DELETE ${MCP_PATH}) or try again later`);
      session = await openSession();
    } else {
      return refuse(res, 400, 'Bad Request: no mcp-session-id header: send initialize first');
    }
    session.lastSeen = Date.now();
    session.inFlight += 1;
    try {
      await session.transport.handleRequest(req, res, body);
    } finally {
      session.inFlight -= 1;
      session.lastSeen = Date.now();
    }
  };

  const httpServer = http.createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      console.error(`fracta: HTTP ${req.method} ${req.url}: ${error.message}`);
      if (!res.headersSent) refuse(res, 500, 'internal error');
      else res.end();
    });
  });
  // A long wait holds its request open for minutes: no timeout of node's may cut it.
  httpServer.requestTimeout = 0;
  httpServer.headersTimeout = 60_000;

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, session] of sessions) {
      if (session.inFlight === 0 && now - session.lastSeen > IDLE_MS) {
        sessions.delete(id);
        void session.close();
      }
    }
  }, 60_000);
  sweep.unref();

  let closing: Promise<void> | undefined;
  const close = (why: string): Promise<void> => {
    closing ??= (async () => {
      clearInterval(sweep);
      httpServer.close();
      httpServer.closeAllConnections();
      const fracta = (await loaded())?.fracta;
      const running = fracta?.activeCount() ?? 0;
      if (running > 0) console.error(`fracta: ${why}; stopping ${running} running run(s)`);
      await Promise.all([...sessions.values()].map((session) => session.close()));
      await fracta?.shutdown();
      process.exit(0);
    })();
    return closing;
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => void close(`got ${signal}`));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', (error: NodeJS.ErrnoException) =>
      reject(new HttpUsageError(`--http: cannot listen on ${serve.host}:${serve.port}: ${error.code === 'EADDRINUSE' ? 'the port is in use (pick another)' : error.message}`)),
    );
    httpServer.listen(serve.port, serve.host, () => resolve());
  });
  const address = httpServer.address();
  if (address && typeof address === 'object') port = address.port;
  const shown = net.isIPv6(serve.host) ? `[${serve.host}]` : serve.host;
  if (serve.banner) process.stderr.write(serve.banner);
  // Tests and scripts read this line for the port when they asked for 0.
  console.error(`fracta: serving MCP at http://${shown}:${port}${MCP_PATH}`);
  reportAtStart(core);
}
