/** Output parsing for the command host: plain text, or one JSON object with configurable paths. */
import type { Result, Usage } from '../../events.js';
import { OutputParseError, type CapturedOutput } from '../host.js';

/** JSON output above this is not parsed (a result object is small; a huge one is a broken CLI). */
export const MAX_JSON_BYTES = 16 * 1024 * 1024;

/** Text kept from a plain-text output; the whole of it stays in the log. */
export const TEXT_KEEP_CHARS = 64 * 1024;

export interface JsonPaths {
  readonly result: string;
  readonly session?: string | undefined;
  readonly isError?: string | undefined;
  readonly cost?: string | undefined;
  readonly usage?: string | undefined;
  readonly turns?: string | undefined;
}

export function parseText(stdout: CapturedOutput): Result {
  const whole = stdout.readText(TEXT_KEEP_CHARS);
  const output = (whole ?? stdout.tail(TEXT_KEEP_CHARS)).replace(/\r?\n$/, '');
  return { output, ...(whole === null ? { outputBytes: stdout.bytes } : {}), isError: false, warnings: [] };
}

export function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * The whole output as one JSON object; else, after banner lines, everything from the first line that
 * opens an object (pretty-printed JSON); else the last line that is one (JSONL ending in a result).
 */
function findJsonObject(text: string): Record<string, unknown> | undefined {
  const lines = text.split(/\r?\n/);
  const opening = lines.findIndex((line) => line.trimStart().startsWith('{'));
  const candidates = [text, ...(opening > 0 ? [lines.slice(opening).join('\n')] : []), ...lines.reverse()];
  for (const candidate of candidates) {
    const trimmed = candidate.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        return parsed as Record<string, unknown>;
      }
    } catch {
      // not this one
    }
  }
  return undefined;
}

function preview(text: string): string {
  const flat = text.trim().replace(/\s+/g, ' ');
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat || '(empty)';
}

export function parseJson(stdout: CapturedOutput, paths: JsonPaths): Result {
  const text = stdout.readText(MAX_JSON_BYTES);
  if (text === null) {
    throw new OutputParseError(
      `the output is ${stdout.bytes} bytes, more than the ${MAX_JSON_BYTES} that fracta parses as JSON; the whole of it is in the run's log`,
    );
  }
  const object = findJsonObject(text);
  if (!object) {
    throw new OutputParseError(`expected a JSON object on stdout, got: ${preview(text)}`);
  }
  const result = getPath(object, paths.result);
  if (typeof result !== 'string') {
    throw new OutputParseError(
      `the JSON output has no string at "${paths.result}" (result_path); its keys are: ${Object.keys(object).join(', ') || 'none'}`,
    );
  }
  const warnings: string[] = [];
  const session = paths.session === undefined ? undefined : getPath(object, paths.session);
  if (paths.session !== undefined && typeof session !== 'string') {
    warnings.push(`the JSON output has no string at "${paths.session}" (session_path): no resume token for this run`);
  }
  const cost = paths.cost === undefined ? undefined : getPath(object, paths.cost);
  const usage = paths.usage === undefined ? undefined : getPath(object, paths.usage);
  const turns = paths.turns === undefined ? undefined : getPath(object, paths.turns);
  return {
    output: result,
    isError: paths.isError !== undefined && getPath(object, paths.isError) === true,
    resumeToken: typeof session === 'string' ? session : undefined,
    costUsd: typeof cost === 'number' ? cost : undefined,
    usage: usage !== null && typeof usage === 'object' ? pickUsage(usage as Record<string, unknown>) : undefined,
    turns: typeof turns === 'number' ? turns : undefined,
    warnings,
  };
}

function pickUsage(raw: Record<string, unknown>): Usage {
  const usage: Usage = {};
  for (const key of ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const) {
    const value = raw[key];
    if (typeof value === 'number') usage[key] = value;
  }
  return usage;
}
