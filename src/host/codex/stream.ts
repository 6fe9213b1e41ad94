/**
 * `codex exec --json` lines as fracta events. Codex has no result object: a turn ends with
 * `turn.completed` (usage only) or `turn.failed`, the session id comes first in `thread.started`, and
 * the answer is the turn's last `agent_message` item. So the parser keeps what it has seen, and the
 * batch path folds the same parser over the whole output.
 */
import type { AgentEvent, StreamParser } from '../../events.js';
import type { Result, Usage } from '../../events.js';
import { codexError } from './result.js';

type Item = Record<string, unknown> & { id?: unknown; type?: unknown };

/**
 * How a write the read-only sandbox stopped shows in a command's output. Best effort: codex now and then
 * prints no item at all for such a command (openai/codex#47433), and then there is nothing to see.
 */
const SANDBOX_BLOCKED = /read-only file system/i;

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** What an MCP tool returned, as text: its text content, else the JSON of the rest. */
function mcpOutput(item: Item): string {
  const error = item.error as { message?: unknown } | null | undefined;
  if (error && typeof error === 'object') return text(error.message);
  const result = item.result as { content?: unknown; structured_content?: unknown } | null | undefined;
  if (!result || typeof result !== 'object') return '';
  const content = Array.isArray(result.content) ? (result.content as Array<{ type?: unknown; text?: unknown }>) : [];
  const texts = content.filter((part) => part?.type === 'text' && typeof part.text === 'string').map((part) => part.text as string);
  if (texts.length > 0) return texts.join('\n');
  return JSON.stringify(result.structured_content ?? result.content ?? '');
}

/** The tool call an item stands for, named as the model saw the tool. */
function toolCall(item: Item): { name: string; input: unknown } | undefined {
  switch (item.type) {
    case 'command_execution':
      return { name: 'exec_command', input: { command: item.command } };
    case 'mcp_tool_call':
      return { name: `mcp__${text(item.server)}__${text(item.tool)}`, input: item.arguments ?? {} };
    case 'file_change':
      return { name: 'apply_patch', input: { changes: item.changes ?? [] } };
    case 'web_search':
      return { name: 'web_search', input: { query: item.query } };
    default:
      return undefined;
  }
}

function toolResult(item: Item): { output: string; isError: boolean } {
  switch (item.type) {
    case 'command_execution':
      return { output: text(item.aggregated_output), isError: item.status === 'failed' || (typeof item.exit_code === 'number' && item.exit_code !== 0) };
    case 'mcp_tool_call':
      return { output: mcpOutput(item), isError: item.status === 'failed' };
    case 'file_change': {
      const changes = Array.isArray(item.changes) ? (item.changes as Array<{ path?: unknown; kind?: unknown }>) : [];
      return { output: changes.map((change) => `${text(change.kind)} ${text(change.path)}`.trim()).join('\n'), isError: item.status === 'failed' };
    }
    default:
      return { output: text(item.status), isError: item.status === 'failed' };
  }
}

function usageOf(raw: unknown): Usage | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const source = raw as Record<string, unknown>;
  const usage: Usage = {};
  const take = (to: keyof Usage, from: string): void => {
    if (typeof source[from] === 'number') usage[to] = source[from];
  };
  take('input_tokens', 'input_tokens');
  take('output_tokens', 'output_tokens');
  take('cache_read_input_tokens', 'cached_input_tokens');
  // OpenAI counts cached tokens inside input_tokens: fracta's usage keeps them apart, as Anthropic does.
  if (usage.input_tokens !== undefined && usage.cache_read_input_tokens) usage.input_tokens = Math.max(0, usage.input_tokens - usage.cache_read_input_tokens);
  take('cache_creation_input_tokens', 'cache_write_input_tokens');
  return usage;
}

function addUsage(total: Usage | undefined, more: Usage): Usage {
  if (!total) return { ...more };
  const sum: Usage = { ...total };
  for (const key of Object.keys(more) as Array<keyof Usage>) sum[key] = (sum[key] ?? 0) + (more[key] ?? 0);
  return sum;
}

/** One parser per process: it remembers the thread, the turn's last answer and its warnings. */
export function codexStreamParser(model?: string): StreamParser {
  let threadId: string | undefined;
  let answer = '';
  let usage: Usage | undefined;
  let warnings: string[] = [];
  let blocked: string[] = [];
  let lastError: string | undefined;
  const started = new Set<string>();

  const finish = (failure: string | undefined): Result => {
    const allWarnings = [...warnings];
    if (blocked.length > 0) {
      allWarnings.push(
        `codex's sandbox kept ${blocked.length} command${blocked.length > 1 ? 's' : ''} from writing (read-only file system): ${blocked.join(', ')}; the runtime's permissions.sandbox (codex's default is read-only) bounds what the agent may change`,
      );
    }
    const error = failure !== undefined ? codexError(failure) : undefined;
    const result: Result = {
      output: failure !== undefined ? answer || failure : answer,
      isError: failure !== undefined,
      ...(error ? { errorCode: error.code, errorMessage: error.message } : {}),
      ...(threadId ? { resumeToken: threadId } : {}),
      ...(usage ? { usage } : {}),
      warnings: allWarnings,
    };
    answer = '';
    usage = undefined;
    warnings = [];
    blocked = [];
    return result;
  };

  const onItem = (kind: 'started' | 'completed' | 'updated', item: Item): AgentEvent[] => {
    const id = String(item.id ?? '');
    if (item.type === 'agent_message') {
      if (kind !== 'completed') return [];
      answer = text(item.text);
      return answer ? [{ type: 'text', text: answer }] : [];
    }
    if (item.type === 'error') {
      // A non-fatal notice (unknown model metadata, a fallback): the turn goes on.
      if (kind !== 'completed') return [];
      const message = text(item.message);
      if (message) warnings.push(`codex: ${message}`);
      return message ? [{ type: 'error', message }] : [];
    }
    const call = toolCall(item);
    if (!call) return [];
    const events: AgentEvent[] = [];
    if (!started.has(id)) {
      started.add(id);
      events.push({ type: 'tool_call', id, name: call.name, input: call.input });
    }
    if (kind === 'completed') {
      const { output, isError } = toolResult(item);
      if (item.type === 'command_execution' && isError && SANDBOX_BLOCKED.test(output)) blocked.push(text(item.command).slice(0, 80));
      events.push({ type: 'tool_result', id, output, is_error: isError });
    }
    return events;
  };

  return {
    line(line: string): AgentEvent[] {
      let object: Record<string, unknown>;
      try {
        object = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return []; // not an event line
      }
      if (object === null || typeof object !== 'object') return [];
      switch (object.type) {
        case 'thread.started':
          threadId = typeof object.thread_id === 'string' ? object.thread_id : threadId;
          return [{ type: 'init', ...(threadId ? { session_id: threadId } : {}), ...(model ? { model } : {}) }];
        case 'item.started':
        case 'item.updated':
        case 'item.completed': {
          const item = object.item as Item | undefined;
          if (!item || typeof item !== 'object') return [];
          return onItem(object.type === 'item.started' ? 'started' : object.type === 'item.updated' ? 'updated' : 'completed', item);
        }
        case 'turn.completed': {
          usage = usageOf(object.usage);
          const events: AgentEvent[] = usage ? [{ type: 'usage', usage, turns: 1 }] : [];
          return [...events, { type: 'result', result: finish(undefined) }];
        }
        case 'turn.failed': {
          const error = object.error as { message?: unknown } | undefined;
          const message = text(error?.message) || lastError || 'codex reported a failed turn';
          return [{ type: 'result', result: finish(message) }];
        }
        case 'error': {
          // Retries ("Reconnecting... 2/5") and the message a turn.failed repeats.
          const message = text(object.message);
          if (message) lastError = message;
          return message ? [{ type: 'error', message }] : [];
        }
        default:
          return [];
      }
    },
  };
}

/** The batch path: the stream parser over the whole output; the last turn's result stands. */
export function foldCodexOutput(text: string): Result | undefined {
  const parser = codexStreamParser();
  let result: Result | undefined;
  let usage: Usage | undefined;
  const warnings: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    for (const event of parser.line(line)) {
      if (event.type !== 'result') continue;
      result = event.result;
      if (event.result.usage) usage = addUsage(usage, event.result.usage);
      warnings.push(...event.result.warnings);
    }
  }
  return result && { ...result, ...(usage ? { usage } : {}), warnings: [...new Set(warnings)] };
}
