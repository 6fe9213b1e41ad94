/**
 * `fracta board`: a page on 127.0.0.1 that shows every run under FRACTA_HOME (every fracta
 * process's) as a live tree, and acts on them through the same cross-process paths as the CLI.
 *
 * Hono (already under the MCP SDK) routes and streams server-sent events; the page is plain HTML,
 * CSS and a module of script in board/ (no framework: a tree, a list and a log pane need none).
 *
 * Safe by default: loopback only, a Host of its own (no DNS rebinding), and a random token that the
 * printed URL carries. Reads take it in the query (EventSource can set no header); every request that
 * changes anything must carry it in the `x-fracta-token` header and send JSON, which no link, form or
 * image of another page can do. What reaches the page is what fracta wrote: records and logs are
 * masked when written.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { serve, type ServerType } from '@hono/node-server';
import type { Fracta } from '../service.js';
import type { RunRecord } from '../record.js';
import { FractaError, asFractaError } from '../errors.js';
import { boardAsset } from './assets.js';
import { AccessToken } from '../access-token.js';
import { RunWatch, summary } from './watch.js';

export const TOKEN_HEADER = 'x-fracta-token';
/** The tail of a log the page gets first; what follows streams. */
const LOG_TAIL_BYTES = 256 * 1024;
const LOG_POLL_MS = 400;
/** A message to a live session, or an answer's text: far above any sane one, yet bounded. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface Board {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function failure(c: Context, error: unknown) {
  const fracta = asFractaError(error, 'internal_error');
  const status = fracta.code === 'run_not_found' ? 404 : fracta.code === 'invalid_input' || fracta.code === 'session_closed' || fracta.code === 'session_busy' ? 400 : 500;
  return c.json({ error: { code: fracta.code, message: fracta.message } }, status);
}

/** The run and every run under it, from the records on disk (children lists can lag: parent_run is the truth). */
function subtree(rootId: string, runs: readonly RunRecord[]): RunRecord[] {
  const byParent = new Map<string, RunRecord[]>();
  for (const run of runs) if (run.parent_run) byParent.set(run.parent_run, [...(byParent.get(run.parent_run) ?? []), run]);
  const out: RunRecord[] = [];
  const visit = (id: string) => {
    for (const child of byParent.get(id) ?? []) {
      out.push(child);
      visit(child.run_id);
    }
  };
  visit(rootId);
  return out;
}

export async function startBoard(fracta: Fracta, options: { port?: number; token?: string; home: string }): Promise<Board> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const access = new AccessToken(token);
  const watch = new RunWatch(fracta, options.home);
  let port = options.port ?? 0;
  const app = new Hono();

  app.use('*', async (c, next) => {
    const host = c.req.header('host') ?? '';
    if (![`127.0.0.1:${port}`, `localhost:${port}`].includes(host)) return c.text(`Host "${host}" is not this board's: open http://127.0.0.1:${port}/`, 403);
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    c.header('x-frame-options', 'DENY');
    c.header('content-security-policy', "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    const isRead = c.req.method === 'GET' || c.req.method === 'HEAD';
    // Assets hold no data: the page itself reads the token from its own URL.
    if (isRead && c.req.path.startsWith('/assets/')) return next();
    const given = isRead ? (c.req.query('token') ?? c.req.header(TOKEN_HEADER)) : c.req.header(TOKEN_HEADER);
    if (!access.matches(given)) {
      return c.json({ error: { code: 'unauthorized', message: isRead ? 'no or wrong token: open the URL fracta board printed' : `a request that changes something needs the token in the ${TOKEN_HEADER} header` } }, 401);
    }
    if (!isRead && !(c.req.header('content-type') ?? '').startsWith('application/json')) {
      return c.json({ error: { code: 'invalid_input', message: 'send JSON (content-type: application/json)' } }, 415);
    }
    return next();
  });

  app.get('/', (c) => c.html(boardAsset('index.html')));
  app.get('/assets/:name', (c) => {
    const name = c.req.param('name');
    const types: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'board.css': 'text/css; charset=utf-8' };
    if (!types[name]) return c.text('not found', 404);
    c.header('content-type', types[name]);
    c.header('cache-control', 'no-cache');
    return c.body(boardAsset(name));
  });

  app.get('/api/runs', async (c) => c.json({ home: options.home, runs: (await watch.snapshot()).map(summary) }));

  // Every change of any run's record, as it lands on disk: one watcher for every page open.
  app.get('/api/updates', (c) =>
    streamSSE(c, async (stream) => {
      let closed = false;
      const unsubscribe = watch.subscribe((record) => {
        if (!closed) void stream.writeSSE({ event: 'run', data: JSON.stringify(summary(record)) });
      });
      stream.onAbort(() => {
        closed = true;
        unsubscribe();
      });
      while (!closed) {
        await stream.writeSSE({ event: 'ping', data: '' });
        await stream.sleep(15_000);
      }
    }),
  );

  app.get('/api/runs/:id', async (c) => {
    try {
      return c.json(await fracta.status({ run_id: c.req.param('id') }));
    } catch (error) {
      return failure(c, error);
    }
  });

  // One run's log (its tail, then what is appended) and its events, live.
  app.get('/api/runs/:id/live', async (c) => {
    let record: RunRecord;
    try {
      record = await fracta.status({ run_id: c.req.param('id') });
    } catch (error) {
      return failure(c, error);
    }
    return streamSSE(c, async (stream) => {
      let closed = false;
      stream.onAbort(() => {
        closed = true;
      });
      const size = (file: string | null) => {
        try {
          return file ? fs.statSync(file).size : 0;
        } catch {
          return 0;
        }
      };
      let logOffset = Math.max(0, size(record.stdout_path) - LOG_TAIL_BYTES);
      let eventsOffset = Math.max(0, size(record.events_path) - LOG_TAIL_BYTES);
      if (logOffset > 0) await stream.writeSSE({ event: 'skipped', data: String(logOffset) });
      while (!closed) {
        const chunk = await fracta.readLog(record.run_id, 'stdout', logOffset, LOG_TAIL_BYTES).catch(() => undefined);
        if (chunk && chunk.text.length > 0) {
          logOffset = chunk.next_offset;
          await stream.writeSSE({ event: 'log', data: JSON.stringify(chunk.text) });
        }
        const eventsSize = size(record.events_path);
        if (record.events_path && eventsSize > eventsOffset) {
          const fd = await fs.promises.open(record.events_path, 'r');
          try {
            const length = Math.min(eventsSize - eventsOffset, LOG_TAIL_BYTES);
            const { buffer, bytesRead } = await fd.read(Buffer.alloc(length), 0, length, eventsOffset);
            const text = buffer.subarray(0, bytesRead).toString('utf8');
            // Whole lines only: the rest comes with the next read.
            const end = text.lastIndexOf('\n') + 1;
            eventsOffset += Buffer.byteLength(text.slice(0, end));
            for (const line of text.slice(0, end).split('\n').filter(Boolean)) await stream.writeSSE({ event: 'event', data: line });
          } finally {
            await fd.close();
          }
        }
        await stream.sleep(LOG_POLL_MS);
      }
    });
  });

  const body = async (c: Context): Promise<Record<string, unknown>> => {
    const text = await c.req.text();
    if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new FractaError('invalid_input', `the request is over ${MAX_BODY_BYTES} bytes`);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new FractaError('invalid_input', 'the request body is not JSON');
    }
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  };

  app.post('/api/runs/:id/cancel', async (c) => {
    try {
      const { subtree: wholeTree } = await body(c);
      const runId = c.req.param('id');
      // Children first: a parent stopped first could leave a child that nobody waits on for a moment.
      const below = wholeTree === true ? subtree(runId, await watch.snapshot()).reverse() : [];
      const cancelled: string[] = [];
      for (const run of below) {
        if (run.ended_at) continue;
        await fracta.cancel({ run_id: run.run_id }).catch(() => undefined);
        cancelled.push(run.run_id);
      }
      const record = await fracta.cancel({ run_id: runId });
      return c.json({ record: summary(record), cancelled: [...cancelled, runId] });
    } catch (error) {
      return failure(c, error);
    }
  });

  app.post('/api/runs/:id/send', async (c) => {
    try {
      const { message } = await body(c);
      return c.json({ record: summary(await fracta.send({ run_id: c.req.param('id'), message, wait_s: 0 })) });
    } catch (error) {
      return failure(c, error);
    }
  });

  app.post('/api/runs/:id/answer', async (c) => {
    try {
      const { request_id, decision, message, scope } = await body(c);
      return c.json({ record: summary(await fracta.answer({ run_id: c.req.param('id'), request_id, decision, message, scope })) });
    } catch (error) {
      return failure(c, error);
    }
  });

  const server: ServerType = await new Promise((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => resolve(started));
    started.once('error', reject);
  });
  port = (server.address() as AddressInfo).port;
  await watch.start();
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    close: async () => {
      watch.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}
