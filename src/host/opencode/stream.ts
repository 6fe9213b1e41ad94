/**
 * `opencode run --format json` lines as fracta events. opencode prints one object per finished part:
 * `step_start`, `text` (a whole text part), `tool_use` (once, when the call has completed or failed),
 * `step_finish` (the step's reason, tokens and cost), `reasoning` (with --thinking), and `error` for a
 * failed turn. Every line carries the `sessionID`. There is no init line and no final result line: the
 * session id comes with the first line, and the turn ends with a step that finished for a reason other
 * than tool calls, with a step whose tool call opencode had to reject (it stops there), or with an error.
 * One process runs one turn, so one parser yields at most one result.
 */
import { usageOfTurn, type AgentEvent, type StreamParser } from '../../events.js';
import type { Result, Usage } from '../../events.js';
import { classifyOpencodeError, describeOpencodeError, type OpencodeError } from './result.js';

/** Step finish reasons after which opencode calls the model again. */
const CONTINUING = new Set(['tool-calls', 'unknown']);

const REJECTED = /user rejected permission to use this specific tool call/i;
const DENIED = /specified a rule which prevents you from using this specific tool call|tried to call unavailable tool/i;

interface Part {
  readonly type?: unknown;
  readonly text?: unknown;
  readonly tool?: unknown;
  readonly callID?: unknown;
  readonly id?: unknown;
  readonly reason?: unknown;
  readonly cost?: unknown;
  readonly tokens?: { input?: unknown; output?: unknown; reasoning?: unknown; cache?: { read?: unknown; write?: unknown } };
  readonly state?: { status?: unknown; input?: unknown; output?: unknown; error?: unknown };
}

interface Line {
  readonly type?: unknown;
  readonly sessionID?: unknown;
  readonly part?: Part;
  readonly error?: OpencodeError;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** A tool call in a few words: its name and its command, path or URL. */
function describeCall(part: Part): string {
  const input = (part.state?.input ?? {}) as Record<string, unknown>;
  // opencode routes a call of a tool it does not offer to its `invalid` tool, naming the real one.
  const name = part.tool === 'invalid' && typeof input.tool === 'string' ? input.tool : String(part.tool ?? 'a tool');
  const detail = [input.command, input.filePath, input.url, input.pattern].find((value): value is string => typeof value === 'string');
  return detail ? `${name} (${detail.slice(0, 80)})` : name;
}

function toolOutput(part: Part): { output: string; isError: boolean } {
  const state = part.state ?? {};
  if (state.status === 'error') return { output: typeof state.error === 'string' ? state.error : 'the tool failed', isError: true };
  const output = typeof state.output === 'string' ? state.output : JSON.stringify(state.output ?? '');
  // A call of a tool opencode does not offer "completes" through its `invalid` tool: it did not run.
  return { output, isError: part.tool === 'invalid' };
}

/** One turn of opencode's output folded as it comes: events out, and the turn's Result at its end. */
export class OpencodeTurn implements StreamParser {
  private sessionId: string | undefined;
  private steps = 0;
  private readonly usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  private cost = 0;
  /** Texts of the current step, and of the last step that had any. */
  private stepTexts: string[] = [];
  private lastTexts: string[] = [];
  private rejectedInStep = false;
  private readonly denied: string[] = [];
  private readonly rejected: string[] = [];
  private error: OpencodeError | undefined;
  private ended: Result | undefined;

  line(text: string): AgentEvent[] {
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      return []; // not an event line
    }
    if (line === null || typeof line !== 'object' || this.ended) return [];
    const events: AgentEvent[] = [];
    if (this.sessionId === undefined && typeof line.sessionID === 'string') {
      this.sessionId = line.sessionID;
      events.push({ type: 'init', session_id: line.sessionID });
    }
    const part = line.part ?? {};
    switch (line.type) {
      case 'step_start':
        this.stepTexts = [];
        this.rejectedInStep = false;
        break;
      case 'text':
        if (typeof part.text === 'string' && part.text) {
          this.stepTexts.push(part.text);
          this.lastTexts = this.stepTexts;
          events.push({ type: 'text', text: part.text });
        }
        break;
      case 'tool_use': {
        const id = String(part.callID ?? part.id ?? '');
        const { output, isError } = toolOutput(part);
        if (REJECTED.test(output)) {
          this.rejected.push(describeCall(part));
          this.rejectedInStep = true;
        } else if (isError && DENIED.test(output)) this.denied.push(describeCall(part));
        events.push({ type: 'tool_call', id, name: String(part.tool ?? ''), input: part.state?.input ?? {} }, { type: 'tool_result', id, output, is_error: isError });
        break;
      }
      case 'step_finish': {
        this.steps += 1;
        const tokens = part.tokens ?? {};
        this.usage.input += num(tokens.input);
        this.usage.output += num(tokens.output) + num(tokens.reasoning);
        this.usage.cacheRead += num(tokens.cache?.read);
        this.usage.cacheWrite += num(tokens.cache?.write);
        this.cost += num(part.cost);
        // opencode stops after a rejected approval; any other reason but tool calls ends the turn.
        if (this.rejectedInStep || !CONTINUING.has(String(part.reason))) events.push(...this.end());
        break;
      }
      case 'error':
        this.error = line.error ?? {};
        events.push({ type: 'error', message: describeOpencodeError(this.error, classifyOpencodeError(this.error)) }, ...this.end());
        break;
      default:
        break;
    }
    return events;
  }

  private end(): AgentEvent[] {
    const result = this.result();
    this.ended = result;
    return [...usageOfTurn(result), { type: 'result', result }];
  }

  /** Whether anything of a turn was seen. */
  get started(): boolean {
    return this.sessionId !== undefined;
  }

  /** The turn's Result: the one it ended with, or what was seen so far (a process that stopped early). */
  result(): Result {
    if (this.ended) return this.ended;
    const warnings: string[] = [];
    if (this.denied.length > 0) {
      warnings.push(
        `opencode denied ${this.denied.length} tool call${this.denied.length > 1 ? 's' : ''}: ${this.denied.join(', ')}; allow them with allowed_tools (or the runtime's permissions)`,
      );
    }
    if (this.rejected.length > 0) {
      warnings.push(
        `opencode asked for approval of ${this.rejected.join(', ')}, which nobody can give in a fracta run, so it was rejected and opencode ended its turn there; set permissions.auto_approve on the runtime to approve what opencode asks about (such as files outside the workspace)`,
      );
    }
    const usage: Usage | undefined =
      this.steps > 0
        ? {
            input_tokens: this.usage.input,
            output_tokens: this.usage.output,
            cache_read_input_tokens: this.usage.cacheRead,
            cache_creation_input_tokens: this.usage.cacheWrite,
          }
        : undefined;
    const code = this.error ? classifyOpencodeError(this.error) : undefined;
    return {
      output: this.lastTexts.join('\n'),
      isError: this.error !== undefined,
      ...(this.error && code ? { errorCode: code, errorMessage: describeOpencodeError(this.error, code) } : {}),
      ...(this.sessionId ? { resumeToken: this.sessionId } : {}),
      // Cost is 0 for a model without prices in opencode's config: that says nothing, so it is left out.
      ...(this.cost > 0 ? { costUsd: this.cost } : {}),
      ...(usage ? { usage } : {}),
      ...(this.steps > 0 ? { turns: this.steps } : {}),
      warnings,
    };
  }
}
