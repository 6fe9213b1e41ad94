/**
 * Every failure fracta reports carries a stable `code` (clients script against it) and a message a
 * person or a model can act on: what went wrong and what to do.
 */
export const ERROR_CODES = [
  'invalid_input',
  'config_invalid',
  'unknown_runtime',
  'unknown_tier',
  'capability_missing',
  'env_missing',
  'command_not_found',
  'prompt_too_long',
  'workspace_failed',
  'spawn_failed',
  'exit_nonzero',
  'output_unparsable',
  'agent_error',
  'timed_out',
  'cancelled',
  'server_stopped',
  'run_not_found',
  'stream_not_supported',
  'auth_failed',
  'unknown_model',
  'rate_limited',
  'api_error',
  'api_unreachable',
  'session_not_found',
  'session_busy',
  'session_closed',
  'depth_limit',
  'children_limit',
  // A budget of the run's tree (money, tokens, turns, time, runs) has nothing left for it.
  'budget_exhausted',
  // What a run's chain claims (FRACTA_PARENT_RUN, FRACTA_DEPTH) that fracta's own records do not back.
  'chain_invalid',
  // State under FRACTA_HOME that fracta cannot trust or use (a poisoned lock, an unreadable record).
  'state_corrupt',
  // A write fracta needs (a record, a log) failed because the disk is full (ENOSPC) or over quota.
  'disk_full',
  // Kubernetes backend: what the cluster refused, each with the fix in the message.
  'k8s_forbidden',
  'k8s_conflict',
  'k8s_invalid',
  'k8s_unreachable',
  'k8s_secret_missing',
  'k8s_image_failed',
  'k8s_error',
  'internal_error',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class FractaError extends Error {
  override readonly name = 'FractaError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request or config field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isFractaError(value: unknown): value is FractaError {
  return value instanceof FractaError;
}

/** Turns anything thrown into a FractaError, keeping typed ones as they are. */
export function asFractaError(value: unknown, fallback: ErrorCode = 'spawn_failed'): FractaError {
  if (value instanceof FractaError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new FractaError(fallback, message);
}

/** A write failed for want of room (a full disk, or a quota): the cause of a disk_full error. */
export function isNoSpace(error: NodeJS.ErrnoException): boolean {
  return error.code === 'ENOSPC' || error.code === 'EDQUOT';
}
