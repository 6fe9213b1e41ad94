/**
 * A run's pending requests (permission requests and questions) across processes. The asker is the
 * fracta that serves the run's agent over MCP, a different process from the run's owner; whoever
 * answers may be a third. They meet in the run's folder: `requests/<id>.ask.json` (written whole by
 * the asker), `requests/<id>.answer.json` (created once, first answer wins). The owner folds both
 * into the run's record (pending_requests, requests), which is what `wait` and `status` show.
 * Everything read here may have been written by a child: it is parsed strictly and bounded.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { FractaError } from '../errors.js';
import { readStateFile } from '../read-bounded.js';
import { answerSchema, isTerminal, pendingRequestSchema, type Answer, type DecidedRequest, type PendingRequest, type RunRecord } from '../record.js';
import type { AgentEvent } from '../events.js';
import { isRunId } from '../run-id.js';
import { pollUntil } from './poll.js';
import type { Run } from './run.js';
import type { RunStore } from './store.js';

/** A request file is small; one that is not is not fracta's. */
const MAX_REQUEST_BYTES = 256 * 1024;
/** At most this many requests of one run are read, the newest (a child flooding its folder slows nobody). */
const MAX_REQUESTS = 200;

const REQUEST_ID = /^r[0-9a-z]{1,40}$/;

export function newRequestId(): string {
  return `r${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

function folder(store: RunStore, runId: string): string {
  return path.join(store.runDir(runId), 'requests');
}

function checkRequestId(requestId: string): string {
  if (!REQUEST_ID.test(requestId)) throw new FractaError('invalid_input', `request_id: "${requestId.slice(0, 60)}" is not a request id (they look like r…, as pending_requests shows them)`, 'request_id');
  return requestId;
}

/** The asker's side: the request, written whole. */
export async function postRequest(store: RunStore, runId: string, request: PendingRequest): Promise<void> {
  const dir = folder(store, runId);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const target = path.join(dir, `${checkRequestId(request.request_id)}.ask.json`);
  const temporary = `${target}.${process.pid}.tmp`;
  await fsp.writeFile(temporary, JSON.stringify(request), { mode: 0o600, flag: 'wx' });
  await fsp.rename(temporary, target);
}

/** Records the decision of a request; false when it was decided already (the first answer stands). */
export async function postAnswer(store: RunStore, runId: string, requestId: string, answer: Answer): Promise<boolean> {
  const dir = folder(store, runId);
  const file = path.join(dir, `${checkRequestId(requestId)}.answer.json`);
  if (!fs.existsSync(path.join(dir, `${requestId}.ask.json`))) {
    throw new FractaError('invalid_input', `run ${runId} has no request ${requestId}: see its pending_requests (status or wait)`, 'request_id');
  }
  try {
    // 'wx': exactly one answer lands, and never through a link a child put there.
    await fsp.writeFile(file, JSON.stringify(answer), { mode: 0o600, flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | undefined> {
  try {
    const parsed = schema.safeParse(JSON.parse(await readStateFile(file, MAX_REQUEST_BYTES)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The run that asked: the end of the request's chain (a copy relayed to an ancestor names it). */
export function originOf(request: PendingRequest, holder: string): string | undefined {
  const origin = request.chain.at(-1) ?? holder;
  return isRunId(origin) && request.chain.includes(holder) ? origin : undefined;
}

/** A request as the folder of `runId` holds it (asked there, or relayed up to it), or a refusal naming it. */
export async function findRequest(store: RunStore, runId: string, requestId: string): Promise<PendingRequest> {
  const request = await readJson(path.join(folder(store, runId), `${checkRequestId(requestId)}.ask.json`), pendingRequestSchema);
  if (!request || request.request_id !== requestId) {
    throw new FractaError('invalid_input', `run ${runId} has no request ${requestId}: see its pending_requests (status or wait)`, 'request_id');
  }
  return request;
}

export function readAnswer(store: RunStore, runId: string, requestId: string): Promise<Answer | undefined> {
  return readJson(path.join(folder(store, runId), `${checkRequestId(requestId)}.answer.json`), answerSchema);
}

/** The owner's side: every request of the run, split into those still pending and those decided. */
export async function readRequests(store: RunStore, runId: string): Promise<{ pending: PendingRequest[]; decided: DecidedRequest[] }> {
  let names: string[];
  try {
    names = (await fsp.readdir(folder(store, runId))).filter((name) => name.endsWith('.ask.json')).sort().slice(-MAX_REQUESTS);
  } catch {
    return { pending: [], decided: [] };
  }
  const pending: PendingRequest[] = [];
  const decided: DecidedRequest[] = [];
  for (const name of names) {
    const request = await readJson(path.join(folder(store, runId), name), pendingRequestSchema);
    if (!request || `${request.request_id}.ask.json` !== name) continue;
    // A request relayed up from a run below is decided where it was asked.
    const origin = originOf(request, runId);
    if (!origin) continue;
    const answer = await readAnswer(store, origin, request.request_id);
    if (answer) decided.push({ ...request, ...answer });
    else pending.push(request);
  }
  return { pending, decided };
}

/** How often the owner of runs whose agents have fracta over MCP looks for their requests and answers. */
const PENDING_POLL_MS = 150;

/** The owner's side: folds the requests of its runs into their records, and wakes their waiters. */
export class PendingWatch {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  /** Told of each request new to a run of this process (asked there, or relayed up to it). */
  readonly listeners = new Set<(run: Run, request: PendingRequest) => void>();

  constructor(
    private readonly store: RunStore,
    /** This process's runs whose agent may ask (it has fracta over MCP) and still runs. */
    private readonly runs: () => Run[],
  ) {}

  watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), PENDING_POLL_MS);
    this.timer.unref();
  }

  private async sweep(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const runs = this.runs();
      if (runs.length === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      await Promise.all(runs.map((run) => this.sync(run)));
    } finally {
      this.busy = false;
    }
  }

  async sync(run: Run): Promise<void> {
    const { pending, decided } = await readRequests(this.store, run.runId);
    const record = run.record;
    const same =
      pending.length === record.pending_requests.length &&
      decided.length === record.requests.length &&
      pending.every((request, index) => request.request_id === record.pending_requests[index]!.request_id);
    if (same) return;
    run.update({ pending_requests: pending, requests: decided, needs_input: pending.length > 0 });
    const fresh = pending.filter((request) => !record.pending_requests.some((known) => known.request_id === request.request_id));
    const settled = decided.filter((request) => !record.requests.some((known) => known.request_id === request.request_id));
    // Into the run's events (events.jsonl for a streamed run) and to whoever follows its progress.
    for (const request of fresh) {
      const what = request.kind === 'question' ? `asks: ${request.question}` : `wants to use ${request.tool}: ${request.input}`;
      emit(run, { type: 'request', request_id: request.request_id, kind: request.kind, what, chain: request.chain });
    }
    for (const request of settled) emit(run, { type: 'decision', request_id: request.request_id, decision: request.decision, decided_by: request.decided_by });
    // A waiter (the parent's wait) returns at once on a new request.
    if (fresh.length > 0) run.turnEnded();
    for (const request of fresh) for (const listener of this.listeners) listener(run, request);
  }
}

/** How long an answer waits for the record of another process's run to show it decided. */
const ANSWER_FOLD_MS = 2_000;

/** The record once it no longer lists `requestId` as pending (or has ended), or as it is after ANSWER_FOLD_MS. */
export async function untilDecided(read: () => Promise<RunRecord>, requestId: string): Promise<RunRecord> {
  const decided = (record: RunRecord) => isTerminal(record.status) || !record.pending_requests.some((request) => request.request_id === requestId);
  return pollUntil(read, decided, { timeoutMs: ANSWER_FOLD_MS, intervalMs: 50 });
}

function emit(run: Run, event: AgentEvent): void {
  run.emit(run.session ? run.session.log.append(event) : { ...event, seq: 0, ts: new Date().toISOString() });
}

/** What a run's record keeps of its requests when it ends: every decision on disk, read once more. */
export async function endOfRequests(store: RunStore, runId: string): Promise<{ requests: DecidedRequest[] }> {
  return { requests: (await readRequests(store, runId)).decided };
}
