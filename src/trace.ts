/**
 * `FRACTA_TRACE=spawn`: one line on stderr per run of this process, the milliseconds from the call
 * to each step of its spawn (parsed, planned, recorded, slot, workspace, process, exited, recorded
 * again, answered). Off by default, and then each mark is one property read. `npm run bench` reads
 * the lines to say where a spawn's time goes.
 */
const enabled = (process.env.FRACTA_TRACE ?? '').split(',').includes('spawn');

interface Trace {
  readonly begun: number;
  readonly steps: Array<[string, number]>;
}

const traces = new Map<string, Trace>();
/** Steps before the run has an id (parsing, planning): the call's own, moved to the run once it has one. */
let pending: Trace | undefined;

export const tracing = enabled;

/** The call began (a spawn request came in). */
export function traceBegin(): void {
  if (enabled) pending = { begun: performance.now(), steps: [] };
}

/** A step of the call before its run has an id. */
export function traceCall(step: string): void {
  if (enabled && pending) pending.steps.push([step, performance.now()]);
}

/** A step of run `runId`; the first one takes over the call's steps. */
export function traceRun(runId: string, step: string): void {
  if (!enabled) return;
  let trace = traces.get(runId);
  if (!trace) {
    trace = pending ?? { begun: performance.now(), steps: [] };
    pending = undefined;
    traces.set(runId, trace);
  }
  trace.steps.push([step, performance.now()]);
}

/** The run's line, once it is answered or ended: `fracta: trace RUN parsed=0.21 planned=0.62 ...`. */
export function traceEnd(runId: string, step: string): void {
  if (!enabled) return;
  traceRun(runId, step);
  const trace = traces.get(runId)!;
  traces.delete(runId);
  process.stderr.write(`fracta: trace ${runId} ${trace.steps.map(([name, at]) => `${name}=${(at - trace.begun).toFixed(2)}`).join(' ')}\n`);
}
