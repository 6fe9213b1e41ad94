/**
 * How a finished process becomes a terminal run record: why it stopped, what the host makes of its
 * output, and the bounded text a caller gets back (the whole output stays in the log).
 */
import { maskSecrets } from '../config/env.js';
import { asFractaError } from '../errors.js';
import { capturedFile } from '../executor/captured.js';
import type { JobExit } from '../executor/backend.js';
import type { Host, Result } from '../host/host.js';
import type { RunRecord } from './record.js';

/** Output text in a result is bounded; the rest is in the log resource. */
export const MAX_OUTPUT_CHARS = 20_000;
const STDERR_TAIL_CHARS = 2_000;

export type StopReason = 'cancel' | 'timeout' | 'shutdown';

/** The end of the output (where agents put their conclusion), with a note saying where the rest is. */
export function boundOutput(output: string, partial: boolean, fullBytes: number, logUri: string): { output: string; truncated: boolean } {
  if (!partial && output.length <= MAX_OUTPUT_CHARS) return { output, truncated: false };
  const tail = output.slice(Math.max(0, output.length - MAX_OUTPUT_CHARS));
  return { output: `[output truncated: its last ${tail.length} characters follow; all ${fullBytes} bytes are at ${logUri}]\n${tail}`, truncated: true };
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

function stoppedOutcome(reason: StopReason, record: RunRecord): Outcome {
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

function parsedOutcome(host: Host, record: RunRecord, exit: JobExit): Outcome {
  const stdout = capturedFile(record.stdout_path);
  const stderr = capturedFile(record.stderr_path);
  let result: Result | undefined;
  let parseError: string | undefined;
  try {
    result = host.parseBatchOutput(stdout, { exitCode: exit.exitCode, signal: exit.signal, stderr });
  } catch (error) {
    parseError = asFractaError(error, 'output_unparsable').message;
  }
  const exitedBadly = exit.exitCode !== 0;
  if (result?.isError) {
    // The agent said what went wrong; its words beat a bare exit code.
    return { status: 'failed', error: { code: 'agent_error', message: result.output || `the agent reported an error and ${describeExit(exit)}` }, result };
  }
  if (exitedBadly) {
    const tail = stderrTail(record.stderr_path);
    return {
      status: 'failed',
      error: {
        code: 'exit_nonzero',
        message: `\`${record.argv[0]}\` ${describeExit(exit)}${tail ? `; the end of its stderr:\n${tail}` : ' and wrote nothing to stderr'}`,
      },
      ...(result ? { result } : {}),
    };
  }
  if (!result) {
    return { status: 'failed', error: { code: 'output_unparsable', message: `runtime "${record.runtime}" produced output fracta cannot read: ${parseError}` } };
  }
  return { status: 'succeeded', error: null, result };
}

export function conclude(
  record: RunRecord,
  host: Host,
  exit: JobExit,
  reason: StopReason | undefined,
  secrets: readonly string[],
): RunRecord {
  const outcome = reason ? stoppedOutcome(reason, record) : parsedOutcome(host, record, exit);
  const result = outcome.result;
  const fullBytes = result ? (result.outputBytes ?? Buffer.byteLength(result.output)) : null;
  const bounded = result
    ? boundOutput(maskSecrets(result.output, secrets), result.outputBytes !== undefined, fullBytes!, record.log_uri)
    : undefined;
  const error = outcome.error ? { code: outcome.error.code, message: maskSecrets(outcome.error.message, secrets) } : null;
  return {
    ...record,
    status: outcome.status,
    error,
    output: bounded?.output ?? null,
    output_truncated: bounded?.truncated ?? false,
    output_bytes: fullBytes,
    resume_token: result?.resumeToken ?? null,
    cost_usd: result?.costUsd ?? null,
    usage: result?.usage ?? null,
    num_turns: result?.turns ?? null,
    exit_code: exit.exitCode,
    signal: exit.signal,
    ended_at: new Date().toISOString(),
    warnings: [...record.warnings, ...(result?.warnings ?? []).map((warning) => maskSecrets(warning, secrets))],
  };
}
