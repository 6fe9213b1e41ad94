/** Claude's stream-json lines (system/init, assistant, user, result) as fracta events. */
import type { AgentEvent, StreamParser } from '../../events.js';
import { isClaudeResult, resultFromClaude } from './result.js';

type Block = { type?: unknown; text?: unknown; id?: unknown; name?: unknown; input?: unknown; tool_use_id?: unknown; content?: unknown; is_error?: unknown };

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: Block) => (part && part.type === 'text' && typeof part.text === 'string' ? part.text : ''))
      .filter(Boolean)
      .join('\n');
  }
  return '';
}

function blocks(message: unknown): Block[] {
  const content = (message as { content?: unknown } | undefined)?.content;
  return Array.isArray(content) ? (content as Block[]) : [];
}

/**
 * One line; `costSoFar` is what the process's earlier results reported, because a live session's
 * total_cost_usd is the session's running total while its usage is the turn's.
 */
export function parseClaudeLine(line: string, costSoFar = 0): AgentEvent[] {
  let object: Record<string, unknown>;
  try {
    object = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return []; // not an event line
  }
  if (object === null || typeof object !== 'object') return [];
  switch (object.type) {
    case 'system':
      if (object.subtype !== 'init') return [];
      return [
        {
          type: 'init',
          ...(typeof object.session_id === 'string' ? { session_id: object.session_id } : {}),
          ...(typeof object.model === 'string' ? { model: object.model } : {}),
          ...(Array.isArray(object.tools) ? { tools: object.tools.filter((tool): tool is string => typeof tool === 'string') } : {}),
          ...(Array.isArray(object.mcp_servers) ? { mcp_servers: object.mcp_servers as Array<{ name: string; status: string }> } : {}),
        },
      ];
    case 'assistant':
      return blocks(object.message).flatMap((block): AgentEvent[] => {
        if (block.type === 'text' && typeof block.text === 'string' && block.text) return [{ type: 'text', text: block.text }];
        if (block.type === 'tool_use') return [{ type: 'tool_call', id: String(block.id ?? ''), name: String(block.name ?? ''), input: block.input ?? {} }];
        return [];
      });
    case 'user':
      return blocks(object.message).flatMap((block): AgentEvent[] =>
        block.type === 'tool_result'
          ? [{ type: 'tool_result', id: String(block.tool_use_id ?? ''), output: textOf(block.content), is_error: block.is_error === true }]
          : [],
      );
    case 'result': {
      if (!isClaudeResult(object)) return [];
      const result = resultFromClaude(object);
      const cost = result.costUsd === undefined ? {} : { cost_usd: Math.max(0, Math.round((result.costUsd - costSoFar) * 1e9) / 1e9) };
      const turns = result.turns === undefined ? {} : { turns: result.turns };
      return [...(result.usage ? [{ type: 'usage' as const, usage: result.usage, ...cost, ...turns }] : []), { type: 'result', result }];
    }
    default:
      return [];
  }
}

export function claudeStreamParser(): StreamParser {
  let costSoFar = 0;
  return {
    line(line) {
      const events = parseClaudeLine(line, costSoFar);
      for (const event of events) if (event.type === 'result' && event.result.costUsd !== undefined) costSoFar = event.result.costUsd;
      return events;
    },
  };
}

/** One user message in `--input-format stream-json`. */
export function encodeClaudeMessage(text: string): string {
  return `${JSON.stringify({ type: 'user', message: { role: 'user', content: text } })}\n`;
}
