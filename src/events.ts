/**
 * fracta's normalized event model: every streaming host turns its CLI's lines into these, so that
 * events.jsonl, progress notifications and live sessions work the same for every agent.
 */
import type { ErrorCode } from './errors.js';

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

/** What a host makes of a finished run's output. */
export interface Result {
  /** The agent's final text (unbounded here; the run layer bounds what it returns). */
  readonly output: string;
  /** Set only when `output` is part of a longer output: the full length in bytes. */
  readonly outputBytes?: number;
  /** The agent itself reported failure (a result object with is_error, say). */
  readonly isError: boolean;
  /** What kind of failure, when the host can tell (auth_failed, unknown_model, ...). */
  readonly errorCode?: ErrorCode;
  /** The failure in words a caller can act on (the agent's message, with what to do). */
  readonly errorMessage?: string;
  readonly resumeToken?: string;
  readonly costUsd?: number;
  readonly usage?: Usage;
  readonly turns?: number;
  readonly warnings: readonly string[];
}

export type AgentEvent =
  | { readonly type: 'init'; readonly session_id?: string; readonly model?: string; readonly tools?: readonly string[]; readonly mcp_servers?: ReadonlyArray<{ name: string; status: string }> }
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'tool_call'; readonly id: string; readonly name: string; readonly input: unknown }
  | { readonly type: 'tool_result'; readonly id: string; readonly output: string; readonly is_error: boolean }
  /** What one turn used (never a running total): its tokens, its cost when the CLI reports one, its agent turns. */
  | { readonly type: 'usage'; readonly usage: Usage; readonly cost_usd?: number; readonly turns?: number }
  /** The end of a turn: what a batch run would have returned. */
  | { readonly type: 'result'; readonly result: Result }
  | { readonly type: 'error'; readonly message: string }
  /** A follow-up message fracta sent into a live session. */
  | { readonly type: 'user'; readonly text: string }
  /** The run (or one below it) asks for a decision: a permission or a question. */
  | { readonly type: 'request'; readonly request_id: string; readonly kind: string; readonly what: string; readonly chain: readonly string[] }
  /** A request of the run was decided, and by whom. */
  | { readonly type: 'decision'; readonly request_id: string; readonly decision: string; readonly decided_by: string }
  /** The agent's plan for the turn, as it stands (ACP agents send it whole on each change). */
  | { readonly type: 'plan'; readonly entries: ReadonlyArray<{ readonly content: string; readonly status: string }> }
  /** A budget the run is under passed 80% (warning), or was spent and stops the runs under it (exhausted). */
  | { readonly type: 'budget'; readonly level: 'warning' | 'exhausted'; readonly message: string };

/** The usage event of a turn that a host's Result sums up (a process per turn): its tokens, cost and agent turns (one at least: it called the model). */
export function usageOfTurn(result: Result): AgentEvent[] {
  if (!result.usage) return [];
  return [{ type: 'usage', usage: result.usage, ...(result.costUsd === undefined ? {} : { cost_usd: result.costUsd }), turns: Math.max(1, result.turns ?? 1) }];
}

/** One line of events.jsonl. */
export type LoggedEvent = AgentEvent & { readonly seq: number; readonly ts: string };

/** Turns one line of a CLI's JSONL output into events; one parser per run, so it may keep state. */
export interface StreamParser {
  line(line: string): AgentEvent[];
}

function clip(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The short human line a waiting client sees as a progress notification. */
export function describeEvent(event: AgentEvent): string {
  switch (event.type) {
    case 'init':
      return `session started${event.model ? ` (model ${event.model})` : ''}`;
    case 'text':
      return `says: ${clip(event.text)}`;
    case 'tool_call':
      return `calls ${event.name} ${clip(JSON.stringify(event.input) ?? '', 100)}`;
    case 'tool_result':
      return `${event.is_error ? 'tool failed' : 'tool result'}: ${clip(event.output, 100)}`;
    case 'usage':
      return `usage: ${event.usage.input_tokens ?? 0} in, ${event.usage.output_tokens ?? 0} out`;
    case 'result':
      return event.result.isError ? `turn failed: ${clip(event.result.output)}` : `turn done: ${clip(event.result.output)}`;
    case 'error':
      return `error: ${clip(event.message)}`;
    case 'user':
      return `message sent: ${clip(event.text)}`;
    case 'request':
      return `needs a decision (${event.request_id}, chain ${event.chain.join(' → ')}): ${clip(event.what, 100)}`;
    case 'decision':
      return `request ${event.request_id}: ${event.decision} (${event.decided_by})`;
    case 'plan':
      return `plan: ${clip(event.entries.map((entry) => `[${entry.status}] ${entry.content}`).join('; '))}`;
    case 'budget':
      return `budget ${event.level === 'warning' ? 'warning' : 'exhausted'}: ${event.message}`;
  }
}
