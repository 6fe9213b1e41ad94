/**
 * ACP's `session/update` notifications as fracta's events: the agent's text, its tool calls and
 * their results, its plan, and what it reports of its cost. One reader per turn, so that it can
 * gather the turn's text and tell a tool call's end from its updates.
 */
import type { AgentEvent } from '../../events.js';

type Update = { sessionUpdate?: unknown; [key: string]: unknown };
type Content = { type?: unknown; text?: unknown; content?: unknown };

function textOf(content: unknown): string {
  if (!content) return '';
  if (Array.isArray(content)) return content.map(textOf).filter(Boolean).join('\n');
  const block = content as Content;
  if (block.type === 'text' && typeof block.text === 'string') return block.text;
  // A tool call's content wraps blocks: { type: "content", content: { type: "text", ... } }.
  if (block.type === 'content') return textOf(block.content);
  return '';
}

export class TurnReader {
  /** The agent's words this turn: its answer. */
  text = '';
  private readonly calls = new Map<string, string>();
  private readonly ended = new Set<string>();

  /** Events for one update; unknown kinds (modes, commands, notices) are none of fracta's business. */
  read(update: Update): AgentEvent[] {
    switch (update.sessionUpdate) {
      case 'agent_message_chunk': {
        const text = textOf(update.content);
        this.text += text;
        return text ? [{ type: 'text', text }] : [];
      }
      case 'tool_call': {
        const id = String(update.toolCallId ?? '');
        const name = String(update.title ?? update.kind ?? 'tool');
        this.calls.set(id, name);
        const events: AgentEvent[] = [{ type: 'tool_call', id, name, input: update.rawInput ?? {} }];
        return [...events, ...this.finished(id, update)];
      }
      case 'tool_call_update':
        return this.finished(String(update.toolCallId ?? ''), update);
      case 'plan': {
        const entries = Array.isArray(update.entries) ? (update.entries as Array<{ content?: unknown; status?: unknown }>) : [];
        return entries.length ? [{ type: 'plan', entries: entries.map((entry) => ({ content: String(entry.content ?? ''), status: String(entry.status ?? '') })) }] : [];
      }
      default:
        return [];
    }
  }

  /** A tool call that reached completed or failed: its result, once. */
  private finished(id: string, update: Update): AgentEvent[] {
    if ((update.status !== 'completed' && update.status !== 'failed') || this.ended.has(id)) return [];
    this.ended.add(id);
    const output = textOf(update.content) || (update.rawOutput === undefined ? '' : JSON.stringify(update.rawOutput));
    return [{ type: 'tool_result', id, output, is_error: update.status === 'failed' }];
  }
}
