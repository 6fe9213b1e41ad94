/**
 * How long one tool call may wait for a run, for the client that makes it: its own entry in
 * fracta.yaml (agents.mcp.wait_ceiling_s), else fracta's table of known clients, else the config's
 * `default`, else the one for clients fracta does not know. A longer wait costs a caller nothing;
 * one past the client's own limit loses the answer, so each is just below that limit.
 */
import { CLIENT_WAIT_CEILINGS_S, DEFAULT_WAIT_CEILING_S, LONGEST_WAIT_S } from './names.js';

export interface WaitCeiling {
  readonly seconds: number;
  /** Where it came from, for the log line and `fracta doctor`. */
  readonly source: 'config' | 'known client' | 'config default' | 'unknown client';
}

export function waitCeiling(clientName: string | undefined, overrides: Readonly<Record<string, number>> = {}): WaitCeiling {
  const own = clientName === undefined || !Object.hasOwn(overrides, clientName) ? undefined : overrides[clientName];
  const picked: WaitCeiling =
    own !== undefined
      ? { seconds: own, source: 'config' }
      : clientName !== undefined && Object.hasOwn(CLIENT_WAIT_CEILINGS_S, clientName)
        ? { seconds: CLIENT_WAIT_CEILINGS_S[clientName]!, source: 'known client' }
        : overrides.default !== undefined
          ? { seconds: overrides.default, source: 'config default' }
          : { seconds: DEFAULT_WAIT_CEILING_S, source: 'unknown client' };
  return { ...picked, seconds: Math.min(picked.seconds, LONGEST_WAIT_S) };
}

/** A wait the caller asked for, held to the ceiling (a longer one waits the ceiling and returns "running"). */
export function capWait(askedS: number | undefined, fallbackS: number, ceilingS: number): number {
  return Math.min(askedS ?? fallbackS, ceilingS) * 1000;
}
