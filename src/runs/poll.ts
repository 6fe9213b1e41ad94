/**
 * Waiting on something another process writes (a record, an answer file): read, check, pause,
 * always bounded. One loop for every such wait in the run wing.
 */

/** Reads until `done` holds, `timeoutMs` passes or `signal` aborts, pausing `intervalMs` between reads; the last value read. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, options: { readonly timeoutMs: number; readonly intervalMs: number; readonly signal?: AbortSignal | undefined }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadline || options.signal?.aborted) return value;
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs, Math.max(0, deadline - Date.now()))));
  }
}
