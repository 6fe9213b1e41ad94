/**
 * A run's agent asks whoever is above it: for a permission its runtime does not give, or a question.
 * This side runs in the fracta that serves the agent over MCP. The policy decides what it can without
 * asking; the rest becomes a pending request in the run's folder (runs/pending.ts), answered by the
 * chain above or the user, or decided by the timeout (deny unless configured: fail closed).
 */
import { FractaError } from '../errors.js';
import type { ApprovalPolicy } from '../config/approvals.js';
import { decideByPolicy } from '../config/approvals.js';
import type { Answer, PendingRequest, RunRecord } from '../record.js';
import type { RequestKind } from '../vocabulary.js';
import { findRequest, newRequestId, originOf, postAnswer, postRequest, readAnswer, readRequests } from './pending.js';
import { pollUntil } from './poll.js';
import type { RunStore } from './store.js';

/** How often the asker looks for the answer. */
const ANSWER_POLL_MS = 200;
/** How much of a tool's input or a question a request keeps (the agent has the whole of it). */
const INPUT_CHARS = 2_000;
const QUESTION_CHARS = 4_000;
/** A chain is never deeper than this (max_depth is far below it); a forged loop of records ends here. */
const MAX_CHAIN = 64;

export interface Ask {
  readonly kind: RequestKind;
  readonly tool?: string;
  /** The tool's input, as the agent gave it. */
  readonly input?: unknown;
  readonly question?: string;
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/** The runs from the root of the tree down to `runId`, from the records' parent links. */
export async function chainOf(store: RunStore, record: RunRecord): Promise<string[]> {
  const chain = [record.run_id];
  let parent = record.parent_run;
  while (parent && chain.length < MAX_CHAIN && !chain.includes(parent)) {
    chain.unshift(parent);
    parent = (await store.read(parent).catch(() => undefined))?.parent_run ?? null;
  }
  return chain;
}

/** An answer as the asker reports it, with the request it decided. */
export interface Decided extends Answer {
  readonly request_id: string;
}

/**
 * Raises the request and waits for its decision. `mask` takes secrets out of the child's text before
 * anything is written; `signal` ends the wait early (the agent's call was cancelled): the timeout's
 * decision is then taken at once.
 */
export async function askAbove(store: RunStore, runId: string, policy: ApprovalPolicy, ask: Ask, mask: (text: string) => string, signal?: AbortSignal): Promise<Decided> {
  const record = await store.read(runId);
  if (record.status !== 'running') throw new FractaError('session_closed', `run ${runId} is ${record.status}: it asks nothing any more`, 'run_id');
  const now = new Date();
  const request: PendingRequest = {
    request_id: newRequestId(),
    kind: ask.kind,
    tool: ask.tool === undefined ? null : mask(shorten(ask.tool, 200)),
    input: ask.input === undefined ? null : mask(shorten(typeof ask.input === 'string' ? ask.input : JSON.stringify(ask.input), INPUT_CHARS)),
    question: ask.question === undefined ? null : mask(shorten(ask.question, QUESTION_CHARS)),
    chain: await chainOf(store, record),
    asked_at: now.toISOString(),
    expires_at: new Date(now.getTime() + policy.timeoutS * 1000).toISOString(),
  };
  const decide = async (decision: Answer['decision'], by: string): Promise<Decided> => {
    const answer: Answer = { decision, message: null, scope: 'once', decided_by: by, decided_at: new Date().toISOString() };
    // Someone may have answered a moment before: the first answer stands.
    const landed = await postAnswer(store, runId, request.request_id, answer);
    return { request_id: request.request_id, ...(landed ? answer : ((await readAnswer(store, runId, request.request_id)) ?? answer)) };
  };

  const byPolicy = ask.kind === 'permission' ? decideByPolicy(policy, ask.tool ?? '', ask.input) : undefined;
  const allowedForRun = ask.kind === 'permission' && (await readRequests(store, runId)).decided.some((earlier) => earlier.scope === 'run' && earlier.decision === 'allow' && earlier.tool === request.tool);
  await postRequest(store, runId, request);
  // Undecided below, a request travels up: every run above sees it, and the first answer stands.
  if (!byPolicy && !allowedForRun) for (const ancestor of request.chain.slice(0, -1)) await postRequest(store, ancestor, request).catch(() => undefined);
  if (byPolicy) return decide(byPolicy.decision, byPolicy.by);
  if (allowedForRun) return decide('allow', 'an earlier answer for this run (scope: run)');

  const timeoutMs = now.getTime() + policy.timeoutS * 1000 - Date.now();
  const answer = await pollUntil(() => readAnswer(store, runId, request.request_id), (found) => found !== undefined, { timeoutMs, intervalMs: ANSWER_POLL_MS, signal });
  return answer ? { request_id: request.request_id, ...answer } : decide(policy.onTimeout, 'timeout');
}

/**
 * Whether the run `caller` (the run whose agent asks to answer, or null for the user) may decide a
 * request of `target`: the user may; a run may for the runs below it, never for itself or a sibling.
 */
async function mayAnswer(store: RunStore, caller: string | null, target: RunRecord): Promise<boolean> {
  if (caller === null) return true;
  const chain = await chainOf(store, target);
  return chain.slice(0, -1).includes(caller);
}

/**
 * Decides request `requestId` as the folder of run `holder` holds it: where it was asked, or a copy
 * relayed up to it, decided then where it was asked. `caller` is the verified run of whoever
 * answers (null: the user); `decidedBy` names another decider (the person at the client).
 */
export async function decideRequest(
  store: RunStore,
  read: (runId: string) => Promise<RunRecord>,
  holder: string,
  requestId: string,
  caller: string | null,
  decision: Pick<Answer, 'decision' | 'message' | 'scope'> & { readonly decidedBy?: string },
): Promise<void> {
  const asked = await findRequest(store, holder, requestId);
  const origin = originOf(asked, holder);
  if (!origin) throw new FractaError('state_corrupt', `request ${requestId} of run ${holder} names no run that asked it`, 'request_id');
  const target = await read(origin);
  if (!(await mayAnswer(store, caller, target))) {
    throw new FractaError('chain_invalid', `run ${caller} may decide only the requests of runs below it, and run ${target.run_id} is not one of them (a run never answers for itself or a sibling)`, 'run_id');
  }
  const landed = await postAnswer(store, target.run_id, requestId, {
    decision: decision.decision,
    message: decision.message,
    scope: decision.scope,
    decided_by: decision.decidedBy ?? (caller ? `run ${caller}` : 'user'),
    decided_at: new Date().toISOString(),
  });
  if (!landed) throw new FractaError('invalid_input', `request ${requestId} of run ${target.run_id} was decided already (see its requests)`, 'request_id');
}
