/**
 * Every way a run ends, as a record: a process that finished (what the host makes of its output, why
 * fracta stopped it), a run that never started (cancelled or stopped in the queue, refused at start),
 * a run cancelled whose owner is gone, a terminal record the disk would not take, and a run recovered
 * after its fracta died. One module, so each ending reads the same wherever it happens (as execa
 * builds every result and error in one place). Each function is pure: the caller writes the record.
 */
import { maskSecrets } from '../secrets.js';
import { asFractaError, type FractaError } from '../errors.js';
import type { CapturedOutput } from '../host/host.js';
import { capturedFile } from '../executor/captured.js';
import type { JobExit } from '../executor/backend.js';
import type { Result } from '../events.js';
import type { Host } from '../host/host.js';
import type { RunRecord } from '../record.js';

/** Output text in a result is bounded; the rest is in the log resource. */
export const MAX_OUTPUT_CHARS = 20_000;
const STDERR_TAIL_CHARS = 2_000;

/** Why fracta stopped a run itself. close and idle end a live session normally: its last turn counts. budget: a budget it is under is spent or out of time. */
export type StopReason = 'cancel' | 'timeout' | 'silent' | 'shutdown' | 'close' | 'idle' | 'budget';

/** The end of the output (where agents put their conclusion), with a note saying where the rest is. */
export function boundOutput(output: string, partial: boolean, fullBytes: number, logUri: string): { output: string; truncated: boolean } {
  if (!partial && output.length <= MAX_OUTPUT_CHARS) return { output, truncated: false };
  const tail = output.slice(Math.max(0, output.length - MAX_OUTPUT_CHARS));
  return { output: `[output truncated: its last ${tail.length} characters follow; all ${fullBytes} bytes are at ${logUri}]\n${tail}`, truncated: true };
}

/** A host's Result written into the record: bounded, with secrets masked. */
export function applyResult(record: RunRecord, result: Result, secrets: readonly string[]): RunRecord {
  const fullBytes = result.outputBytes ?? Buffer.byteLength(result.output);
  const bounded = boundOutput(maskSecrets(result.output, secrets), result.outputBytes !== undefined, fullBytes, record.log_uri);
  return {
    ...record,
    output: bounded.output,
    output_truncated: bounded.truncated,
    output_bytes: fullBytes,
    resume_token: result.resumeToken ?? record.resume_token,
    cost_usd: result.costUsd ?? record.cost_usd,
    usage: result.usage ?? record.usage,
    num_turns: result.turns ?? record.num_turns,
    warnings: [...new Set([...record.warnings, ...result.warnings.map((warning) => maskSecrets(warning, secrets))])],
  };
}

function stderrTail(path: string): string {
  return capturedFile(path).tail(STDERR_TAIL_CHARS).trim();
}

function describeExit(exit: JobExit): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
}

interface Outcome {
  status: RunRecord['status'];
  error: RunRecord['error'];
  result?: Result;
}

function stoppedOutcome(reason: 'cancel' | 'timeout' | 'silent' | 'shutdown' | 'budget', record: RunRecord, ending: Ending): Outcome {
  switch (reason) {
    case 'budget':
      return {
        status: 'failed',
        error: { code: 'budget_exhausted', message: `${ending.budgetMessage ?? 'a budget it is under is spent'}; its process group was killed, and what it wrote so far is kept` },
        ...(ending.stream?.lastResult ? { result: ending.stream.lastResult } : {}),
      };
    case 'cancel':
      return { status: 'cancelled', error: { code: 'cancelled', message: 'cancelled on request; its process group was killed' } };
    case 'timeout':
      return {
        status: 'timed_out',
        error: {
          code: 'timed_out',
          message: `no result within ${record.timeout_s} s, so its process group was killed; give a larger timeout_s for longer tasks`,
        },
      };
    case 'silent':
      return {
        status: 'timed_out',
        error: {
          code: 'timed_out',
          message: `the agent wrote nothing for ${ending.idleTimeoutS} s (idle_timeout_s), so its process group was killed; raise idle_timeout_s for agents that stay quiet longer`,
        },
      };
    case 'shutdown':
      return {
        status: 'interrupted',
        error: {
          code: 'server_stopped',
          message: 'fracta stopped (its client disconnected or it was signalled) while the run was going; its process group was killed',
        },
      };
  }
}

function exitFailure(host: Host, record: RunRecord, exit: JobExit): Outcome['error'] {
  const tail = stderrTail(record.stderr_path);
  const explained = tail ? host.explainFailure?.(tail) : undefined;
  if (explained) return explained;
  return {
    code: 'exit_nonzero',
    message: `\`${record.argv[0]}\` ${describeExit(exit)}${tail ? `; the end of its stderr:\n${tail}` : ' and wrote nothing to stderr'}`,
  };
}

/** Outcome from what the agent said: its result (parsed from stdout, or the last turn of a stream). */
function resultOutcome(
  host: Host,
  record: RunRecord,
  exit: JobExit,
  result: Result | undefined,
  parseError: string | undefined,
  closedByUs: boolean,
): Outcome {
  if (result?.isError) {
    // The agent said what went wrong; its words beat a bare exit code.
    return {
      status: 'failed',
      error: {
        code: result.errorCode ?? 'agent_error',
        message: result.errorMessage || result.output || `the agent reported an error and ${describeExit(exit)}`,
      },
      result,
    };
  }
  // A live session we closed may be killed for lingering: its last result stands.
  if (exit.exitCode !== 0 && !(closedByUs && result)) {
    return { status: 'failed', error: exitFailure(host, record, exit), ...(result ? { result } : {}) };
  }
  if (!result) {
    return { status: 'failed', error: { code: 'output_unparsable', message: `runtime "${record.runtime}" produced output fracta cannot read: ${parseError}` } };
  }
  return { status: 'succeeded', error: null, result };
}

function batchOutcome(host: Host, record: RunRecord, exit: JobExit): Outcome {
  const stdout = capturedFile(record.stdout_path);
  const stderr = capturedFile(record.stderr_path);
  try {
    const result = host.parseBatchOutput(stdout, { exitCode: exit.exitCode, signal: exit.signal, stderr });
    return resultOutcome(host, record, exit, result, undefined, false);
  } catch (error) {
    return resultOutcome(host, record, exit, undefined, asFractaError(error, 'output_unparsable').message, false);
  }
}

export interface Ending {
  readonly exit: JobExit;
  readonly reason: StopReason | undefined;
  /** For a streamed run: the last turn's result (undefined when none came). Absent for batch runs. */
  readonly stream?: { readonly lastResult: Result | undefined };
  readonly idleTimeoutS?: number | undefined;
  /** For a run stopped for its budget: which budget, and where to raise it. */
  readonly budgetMessage?: string | undefined;
}

/** A run whose process ran and exited (or was stopped by fracta). */
export function concluded(record: RunRecord, host: Host, ending: Ending, secrets: readonly string[]): RunRecord {
  const { exit, reason, stream } = ending;
  let outcome: Outcome;
  const stopped = reason === 'cancel' || reason === 'timeout' || reason === 'silent' || reason === 'shutdown' || reason === 'budget';
  if (stopped) {
    outcome = stoppedOutcome(reason, record, ending);
  }
  else if (exit.startError) {
    // The backend could not get the agent going (a cluster's missing Secret or image): its own words.
    outcome = { status: 'failed', error: { code: exit.startError.code, message: exit.startError.message } };
  } else if (stream) {
    outcome = resultOutcome(host, record, exit, stream.lastResult, 'its stream ended without a result event', reason !== undefined);
  } else outcome = batchOutcome(host, record, exit);
  // Output that could not be kept whole (a full disk) is no success, whatever the agent said, and is
  // the first cause of whatever else went wrong (a cut-short log, an agent that died on ENOSPC).
  if (exit.outputError && !stopped && !exit.startError) {
    outcome = { ...outcome, status: 'failed', error: { code: exit.outputError.code, message: exit.outputError.message } };
  }

  let final: RunRecord = outcome.result ? applyResult(record, outcome.result, secrets) : record;
  if (reason === 'idle') final = { ...final, warnings: [...final.warnings, 'the live session was closed after waiting too long for a message (session_idle_timeout_s)'] };
  return {
    ...final,
    status: outcome.status,
    error: outcome.error ? { code: outcome.error.code, message: maskSecrets(outcome.error.message, secrets) } : null,
    awaiting_input: false,
    exit_code: exit.exitCode,
    signal: exit.signal,
    ended_at: new Date().toISOString(),
  };
}

function ended(record: RunRecord, status: RunRecord['status'], error: NonNullable<RunRecord['error']>): RunRecord {
  return { ...record, status, error, awaiting_input: false, ended_at: new Date().toISOString() };
}

/** Why a run ended before it ever started. */
export type QueueEnd = 'cancel' | 'shutdown' | FractaError;

/** A run that ends before it ever started: cancelled in the queue, fracta stopping, or no usable slot. */
export function endedInQueue(record: RunRecord, reason: QueueEnd): RunRecord {
  if (reason === 'cancel') return ended(record, 'cancelled', { code: 'cancelled', message: 'cancelled while queued; it never started' });
  if (reason === 'shutdown') {
    return ended(record, 'interrupted', { code: 'server_stopped', message: 'fracta stopped before this queued run started; nothing ran: spawn it again' });
  }
  return ended(record, 'failed', { code: reason.code, message: `${reason.message}; nothing ran` });
}

/** A run whose workspace or process could not be made (a missing command, a link in the workspace). */
export function refusedAtStart(record: RunRecord, failure: FractaError, secrets: readonly string[]): RunRecord {
  return ended(record, 'failed', { code: failure.code, message: maskSecrets(failure.message, secrets) });
}

/** A run of another fracta process (or of none) cancelled from here: its process tree or Job is gone. */
export function cancelledElsewhere(record: RunRecord): RunRecord {
  return ended(record, 'cancelled', {
    code: 'cancelled',
    message: record.kubernetes ? 'cancelled on request; its Job was deleted' : 'cancelled on request; its process group was killed',
  });
}

/**
 * What a run is answered as when its terminal record could not be written (a full disk): failed with
 * that error, the status it reached named in the message.
 */
export function unwrittenRecord(final: RunRecord, error: FractaError): RunRecord {
  return {
    ...final,
    status: 'failed',
    error: {
      code: error.code,
      message: `the run ended (${final.status}${final.error ? `: ${final.error.message}` : ''}) but its record could not be written: ${error.message}; fracta tries again, and a fracta started later recovers it`,
    },
  };
}

/** What recovery found of a run whose fracta died. */
export interface Orphan {
  /** Its process group was still running and was killed. */
  readonly killed: boolean;
  /** It ran on a cluster, and its Job is being deleted. */
  readonly onCluster: boolean;
  /** Its stdout log, for the output the record never got. */
  readonly stdout: CapturedOutput;
}

/** A run whose fracta died before it ended: interrupted, with the end of what it logged as its output. */
export function recovered(record: RunRecord, orphan: Orphan): RunRecord {
  const logged = orphan.stdout;
  const tail = logged.bytes > 0 ? boundOutput(logged.tail(MAX_OUTPUT_CHARS), logged.bytes > MAX_OUTPUT_CHARS, logged.bytes, record.log_uri) : undefined;
  const where = orphan.onCluster
    ? `its Job ${record.kubernetes!.namespace}/${record.kubernetes!.job} is deleted`
    : orphan.killed
      ? 'its process group, still running, was killed'
      : 'its process was already gone';
  const message =
    record.status === 'queued'
      ? `the fracta process that queued it (pid ${record.owner_pid}) stopped before it started; nothing ran: spawn it again`
      : `the fracta process that ran it (pid ${record.owner_pid}) stopped without finishing it; ${where}; what it logged is kept at ${record.log_uri}`;
  return {
    ...ended(record, 'interrupted', { code: 'server_stopped', message }),
    output: record.output ?? tail?.output ?? null,
    output_truncated: record.output === null ? (tail?.truncated ?? false) : record.output_truncated,
    output_bytes: record.output_bytes ?? (logged.bytes || null),
  };
}
