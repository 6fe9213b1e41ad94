/**
 * Progress notifications for a client that asked for them (a progressToken) while a tool waits on a
 * run: one short line per agent event, and a heartbeat with elapsed time and output size when the
 * agent is quiet (batch runs emit no events).
 */
import fs from 'node:fs';
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { describeEvent } from '../events.js';
import type { Fracta } from '../service.js';

const HEARTBEAT_MS = 1_000;

/** How long the answer waits after the last progress notification (see stop). */
const SETTLE_MS = 15;

/** How long the answer waits for the last notifications to go out. */
const FLUSH_MS = 1_000;

export type Notify = (notification: ServerNotification) => Promise<void>;

/**
 * Returns a follower: call it with the run ids a call waits on to start sending progress; it returns `stop`, which
 * resolves once what is going out is out (or a second has passed), and after which nothing is sent,
 * so that no notification arrives after the tool's answer.
 */
export function progressFollower(fracta: Fracta, progressToken: string | number | undefined, notify: Notify) {
  return (runIds: readonly string[]): (() => Promise<void>) => {
    if (progressToken === undefined) return async () => undefined;
    let progress = 0;
    let lastSent = Date.now();
    const started = Date.now();
    // One notification in flight, and at most one waiting (the newest): a client that stops reading
    // must not make fracta queue every event of a streaming agent in memory.
    let inFlight: Promise<void> | undefined;
    let waiting: string | undefined;
    let stopped = false;
    const flush = (message: string) => {
      progress += 1;
      lastSent = Date.now();
      inFlight = notify({ method: 'notifications/progress', params: { progressToken, progress, message } })
        .catch(() => undefined)
        .then(() => {
          inFlight = undefined;
          if (waiting === undefined) return;
          const next = waiting;
          waiting = undefined;
          flush(next);
        });
    };
    const send = (message: string) => {
      if (stopped) return;
      if (inFlight) waiting = message;
      else flush(message);
    };
    const unsubscribes = runIds.map((runId) => fracta.follow(runId, (event) => send(`run ${runId}: ${describeEvent(event)}`)));
    // A heartbeat names every run still going, so a client that resets its idle timer on progress
    // never gives up on a quiet batch run, and a person reading it knows which child holds the call.
    const heartbeat = setInterval(() => {
      if (Date.now() - lastSent < HEARTBEAT_MS) return;
      void Promise.all(runIds.map((runId) => fracta.status({ run_id: runId })))
        .then((records) => {
          const seconds = Math.round((Date.now() - started) / 1000);
          const lines = records.map((record) => {
            let bytes = 0;
            try {
              bytes = fs.statSync(record.stdout_path).size;
            } catch {
              // nothing written yet
            }
            return `run ${record.run_id} ${record.status} for ${seconds} s, ${bytes} bytes of output`;
          });
          send(lines.join('; '));
        })
        .catch(() => undefined);
    }, HEARTBEAT_MS);
    return async () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
      clearInterval(heartbeat);
      stopped = true;
      // What is still going out goes before the answer, but never holds it up for long: a client that
      // does not read would not read the answer either.
      for (let round = 0; inFlight && round < 2; round++) {
        let timer: NodeJS.Timeout | undefined;
        const gaveUp = await Promise.race([inFlight.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), FLUSH_MS)))]);
        clearTimeout(timer);
        if (gaveUp) break;
      }
      waiting = undefined;
      // The MCP SDK's client handles a notification a microtask after reading it, but a response at
      // once: read in the same chunk, the response wins, the request's progress handler is gone, and
      // the last notification (often "turn done") is dropped. A moment between them lets it read them apart.
      const since = Date.now() - lastSent;
      if (progress > 0 && since < SETTLE_MS) await new Promise((resolve) => setTimeout(resolve, SETTLE_MS - since));
    };
  };
}
