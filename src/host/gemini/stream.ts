/**
 * Gemini's `--output-format stream-json` lines (init, message, tool_use, tool_result, error, result)
 * as fracta events. The assistant's text comes as many `delta` pieces: they are gathered into one
 * text event per message, and the turn's output is the text after its last tool call (what
 * `--output-format json` calls the response).
 */
import { usageOfTurn, type AgentEvent, type StreamParser } from '../../events.js';
import type { Result, Usage } from '../../events.js';
import { failureResult } from './result.js';

type Line = Record<string, any>;

/** Tool errors that mean the call was not allowed, as opposed to a tool that ran and failed. */
const REFUSALS: Record<string, string> = {
  tool_not_registered: 'not offered in headless mode',
  policy_violation: 'denied by policy',
};

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function usageOf(stats: unknown): Usage | undefined {
  if (!stats || typeof stats !== 'object') return undefined;
  const s = stats as Line;
  const cached = num(s.cached);
  return {
    input_tokens: s.input !== undefined ? num(s.input) : Math.max(0, num(s.input_tokens) - cached),
    output_tokens: num(s.output_tokens),
    cache_read_input_tokens: cached,
  };
}

function describeCall(name: string, input: unknown): string {
  const args = input as Record<string, unknown> | undefined;
  const detail = typeof args?.command === 'string' ? args.command : typeof args?.file_path === 'string' ? args.file_path : undefined;
  return detail ? `${name} (${detail.slice(0, 80)})` : name;
}

export class GeminiStreamParser implements StreamParser {
  private sessionId: string | undefined;
  /** Text of the assistant message being streamed, not yet given out as an event. */
  private pending = '';
  /** The turn's text since its last tool call. */
  private answer = '';
  private steps = 0;
  private last: 'assistant' | 'tool_use' | 'other' = 'other';
  private readonly calls = new Map<string, { name: string; input: unknown }>();
  private refused: string[] = [];
  private warnings: string[] = [];

  line(text: string): AgentEvent[] {
    let object: Line;
    try {
      object = JSON.parse(text) as Line;
    } catch {
      return []; // not an event line
    }
    if (object === null || typeof object !== 'object') return [];
    if (object.type === 'message' && object.role === 'assistant') {
      if (this.last !== 'assistant' && this.last !== 'tool_use') this.steps += 1;
      this.last = 'assistant';
      if (typeof object.content === 'string') this.pending += object.content;
      return [];
    }
    const events = this.flush();
    switch (object.type) {
      case 'init':
        if (typeof object.session_id === 'string') this.sessionId = object.session_id;
        this.last = 'other';
        events.push({
          type: 'init',
          ...(this.sessionId ? { session_id: this.sessionId } : {}),
          ...(typeof object.model === 'string' ? { model: object.model } : {}),
        });
        break;
      case 'tool_use': {
        if (this.last !== 'assistant' && this.last !== 'tool_use') this.steps += 1;
        this.last = 'tool_use';
        // Text before a tool call is the agent thinking aloud, not its answer.
        this.answer = '';
        const id = String(object.tool_id ?? '');
        const name = String(object.tool_name ?? '');
        this.calls.set(id, { name, input: object.parameters ?? {} });
        events.push({ type: 'tool_call', id, name, input: object.parameters ?? {} });
        break;
      }
      case 'tool_result': {
        this.last = 'other';
        const id = String(object.tool_id ?? '');
        const error = object.error && typeof object.error === 'object' ? (object.error as Line) : undefined;
        const output = typeof object.output === 'string' ? object.output : typeof error?.message === 'string' ? error.message : '';
        const refusal = typeof error?.type === 'string' ? REFUSALS[error.type] : undefined;
        if (refusal) {
          const call = this.calls.get(id);
          this.refused.push(`${call ? describeCall(call.name, call.input) : id}: ${refusal}`);
        }
        events.push({ type: 'tool_result', id, output, is_error: object.status !== 'success' });
        break;
      }
      case 'error':
        if (typeof object.message === 'string') {
          this.warnings.push(`gemini: ${object.message}`);
          if (object.severity === 'error') events.push({ type: 'error', message: object.message });
        }
        break;
      case 'result': {
        const result = this.result(object);
        events.push(...usageOfTurn(result));
        events.push({ type: 'result', result });
        this.reset();
        break;
      }
      default:
        this.last = 'other';
    }
    return events;
  }

  /** The assistant message streamed so far, as one text event. */
  private flush(): AgentEvent[] {
    if (!this.pending) return [];
    const text = this.pending;
    this.pending = '';
    this.answer += text;
    return text.trim() ? [{ type: 'text', text }] : [];
  }

  private result(object: Line): Result {
    const usage = usageOf(object.stats);
    const warnings = [...this.warnings];
    if (this.refused.length > 0) {
      warnings.push(
        `gemini did not run ${this.refused.length} tool call${this.refused.length > 1 ? 's' : ''}: ${this.refused.join('; ')}; allow ${this.refused.length > 1 ? 'them' : 'it'} with allowed_tools (or the runtime's permissions)`,
      );
    }
    const base = { output: this.answer, warnings, ...(this.sessionId ? { resumeToken: this.sessionId } : {}), ...(usage ? { usage } : {}), turns: this.steps };
    if (object.status === 'error') {
      const error = (object.error ?? {}) as Line;
      return failureResult(typeof error.message === 'string' ? error.message : 'gemini reported an error', error.code, base);
    }
    return { isError: false, ...base };
  }

  private reset(): void {
    this.answer = '';
    this.steps = 0;
    this.last = 'other';
    this.calls.clear();
    this.refused = [];
    this.warnings = [];
  }
}

export function geminiStreamParser(): StreamParser {
  return new GeminiStreamParser();
}
