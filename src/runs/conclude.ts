/**
 * How a finished process becomes a terminal run record: why it stopped, what the host makes of its
 * output, and the bounded text a caller gets back (the whole output stays in the log).
 */
import { maskSecrets } from '../secrets.js';
import { asFractaError } from '../errors.js';
import { capturedFile } from '../executor/captured.js';
import type { JobExit } from '../executor/backend.js';
import type { Result } from '../events.js';
import type { Host } from '../host/host.js';
import type { RunRecord } from '../record.js';

/** Output text in a result is bounded; the rest is in the log resource. */
export const MAX_OUTPUT_CHARS = 20_000;
const STDERR_TAIL_CHARS = 2_000;

/** Why fracta stopped a run itself. close and idle end a live session normally: its last turn counts. */
export type StopReason = 'cancel' | 'timeout' | 'silent' | 'shutdown' | 'close' | 'idle';

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

function stoppedOutcome(reason: 'cancel' | 'timeout' | 'silent' | 'shutdown', record: RunRecord, idleTimeoutS: number | undefined): Outcome {
  switch (reason) {
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
          message: `the agent wrote nothing for ${idleTimeoutS} s (idle_timeout_s), so its process group was killed; raise idle_timeout_s for agents that stay quiet longer`,
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
}

export function conclude(record: RunRecord, host: Host, ending: Ending, secrets: readonly string[]): RunRecord {
  const { exit, reason, stream } = ending;
  let outcome: Outcome;
  const stopped = reason === 'cancel' || reason === 'timeout' || reason === 'silent' || reason === 'shutdown';
  if (stopped) {
    outcome = stoppedOutcome(reason, record, ending.idleTimeoutS);
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
