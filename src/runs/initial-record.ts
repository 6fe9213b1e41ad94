/**
 * A run's record as it is first written, queued: everything the plan already knows, nothing of what
 * running it will tell.
 */
import { maskSecrets } from '../secrets.js';
import { isStreamSpec } from '../host/host.js';
import type { SpawnPlan } from '../spawn/plan.js';
import { processIdentity } from './identity.js';
import type { RunRecord } from '../record.js';
import type { RunStore } from './store.js';

/** An argument longer than this is shortened in the record (a prompt passed as an argument, say). */
const ARGV_ELEMENT_CHARS = 200;

function logUri(runId: string): string {
  return `fracta://runs/${runId}/log`;
}

function recordArgv(plan: SpawnPlan): string[] {
  return [plan.command.command, ...plan.command.args].map((arg) => {
    const masked = maskSecrets(arg, plan.childEnv.secrets);
    return masked.length > ARGV_ELEMENT_CHARS ? `${masked.slice(0, ARGV_ELEMENT_CHARS)}… (${masked.length} characters)` : masked;
  });
}

/** The record's git part before the run: the branch it works on, nothing changed yet. */
function gitSummary(plan: SpawnPlan): RunRecord['git'] {
  // A clone the backend makes (in a pod, gone when the run ends): what the agent pushed is on the remote.
  const clone = plan.target.clone;
  const base = clone
    ? { repo: clone.url, branch: clone.branch, base_branch: clone.baseBranch, base_commit: null }
    : plan.repo?.baseCommit
      ? { repo: plan.repo.repo, branch: plan.repo.branch, base_branch: plan.repo.baseBranch, base_commit: plan.repo.baseCommit }
      : undefined;
  return base ? { ...base, commits: [], uncommitted: [], diff: { files: [], insertions: 0, deletions: 0 }, branch_kept: null } : null;
}

/** How much of the task the record shows. */
const PREVIEW_CHARS = 200;

/** `maskedTask`: the whole task, masked (cut after masking, so no secret across the cut keeps its first half). */
export function initialRecord(plan: SpawnPlan, store: RunStore, maskedTask: string): RunRecord {
  const { runId, resolved, request } = plan;
  const now = new Date().toISOString();
  return {
    run_id: runId,
    status: 'queued',
    runtime: resolved.runtime.name,
    host: resolved.runtime.adapter,
    tier: resolved.tier,
    model: plan.model === undefined || plan.model === null ? null : maskSecrets(plan.model, plan.childEnv.secrets),
    model_tier: request.tier ?? null,
    task_preview: maskedTask.slice(0, PREVIEW_CHARS),
    task_bytes: Buffer.byteLength(request.task),
    output: null,
    output_bytes: null,
    output_truncated: false,
    error: null,
    resume_token: null,
    exit_code: null,
    signal: null,
    cost_usd: null,
    usage: null,
    num_turns: null,
    workspace: plan.workdir,
    workspace_removed: false,
    cleanup: plan.cleanup,
    log_uri: logUri(runId),
    stdout_path: store.stdoutPath(runId),
    stderr_path: store.stderrPath(runId),
    argv: recordArgv(plan),
    pid: null,
    owner_pid: process.pid,
    timeout_s: plan.timeoutS,
    created_at: now,
    started_at: null,
    ended_at: null,
    warnings: [...plan.warnings],
    parent_run: plan.lineage.parentRun,
    root_run: plan.lineage.rootRun,
    depth: plan.lineage.depth,
    resumed_from: plan.resume?.fromRun ?? null,
    children: [],
    owner_started: processIdentity().started,
    workspace_mode: plan.sharedWorkspace ? 'shared' : (plan.repo?.mode ?? 'fresh'),
    // Known before the process or Job exists, and written before it is made: a fracta that dies in
    // between leaves a record through which the next start finds a Job and deletes it.
    ...plan.target.place,
    git: gitSummary(plan),
    // A batch run over a protocol is streamed inside, but takes no messages.
    stream: isStreamSpec(plan.command) && plan.command.singleTurn !== true,
    awaiting_input: false,
    turns_done: 0,
    events_path: isStreamSpec(plan.command) ? store.eventsPath(runId) : null,
    needs_input: false,
    pending_requests: [],
    requests: [],
    spent: { usd: null, tokens: 0, turns: 0 },
    budget: null,
    tree_spent: null,
  };
}
