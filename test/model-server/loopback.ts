/** What every scripted model server shares: listening on 127.0.0.1, delayed replies, and a close that leaves nothing behind. */
import type http from 'node:http';
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
