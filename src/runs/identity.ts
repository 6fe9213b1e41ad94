/**
 * A process as fracta records it: its pid and its start time, so that a pid the system gave to some
 * other process later is not taken for the fracta that wrote a record or a lease.
 */
import { processAlive, statFields } from '../processes.js';

export interface ProcessIdentity {
  readonly pid: number;
  /** Start time in clock ticks since boot (Linux /proc), or null where it cannot be read. */
  readonly started: number | null;
}

function startTime(pid: number): number | null {
  const started = statFields(pid)?.[19];
  return started === undefined ? null : Number(started);
}

let self: ProcessIdentity | undefined;

/** Whether a value read from disk (which a child can write) has the shape fracta writes. */
export function isProcessIdentity(value: unknown): value is ProcessIdentity {
  const owner = value as Partial<ProcessIdentity> | null;
  return typeof owner === 'object' && owner !== null && Number.isInteger(owner.pid) && (owner.started === null || Number.isInteger(owner.started));
}

export function processIdentity(): ProcessIdentity {
  self ??= { pid: process.pid, started: startTime(process.pid) };
  return self;
}

/** Whether the process is still running (and is the same one, where the start time can be read). */
export function sameProcess(identity: ProcessIdentity): boolean {
  if (!processAlive(identity.pid)) return false;
  const now = startTime(identity.pid);
  return identity.started === null || now === null || now === identity.started;
}

/**
 * Stricter than sameProcess, for what anyone may have written (a lease file): alive and, where /proc
 * tells start times, with the very start time recorded. `{pid: 1, started: null}` proves nothing.
 */
export function provenAlive(identity: ProcessIdentity): boolean {
  if (!Number.isInteger(identity.pid) || identity.pid <= 1) return false;
  if (identity.started === null && processIdentity().started !== null) return false;
  return sameProcess(identity);
}
