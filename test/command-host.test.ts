import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { RuntimeConfig } from '../src/config/runtime.js';
import { FractaError } from '../src/errors.js';
import { capturedFile } from '../src/executor/captured.js';
import { commandAdapter, MAX_ARG_BYTES } from '../src/host/command/adapter.js';
import { parseJson, parseText, TEXT_KEEP_CHARS } from '../src/host/command/parse.js';
import { NO_CAPABILITIES, OutputParseError, tierOf, type CapturedOutput, type CommandInput, type ExitInfo, type Host } from '../src/host/host.js';
import { RuntimeRegistry } from '../src/host/registry.js';
import { thrown } from './helpers/thrown.js';
import { ADAPTERS } from '../src/host/adapters.js';

const FILE = path.join(process.cwd(), 'fracta.yaml');
const WORKDIR = path.join(os.tmpdir(), 'fracta-workspace');
/** The rest of a CommandInput, as a spawn without tools, MCP or env has it. */
const UNSET = { allowedTools: undefined, agentMcp: false, env: {} } as const;

/** The host for one runtime, through the same path fracta takes: config validation, then the registry. */
function hostFor(settings: Record<string, unknown>): Host {
  const config = parseConfig({ agents: { agent_runtimes: { x: settings } } }, FILE, ADAPTERS);
  return RuntimeRegistry.fromConfig(config).resolve('x').host;
}

/** A command runtime set up the way one would drive `claude -p` through the generic host. */
function claudeLikeCommand(): Host {
  return hostFor({
    adapter: 'command',
    command: 'claude',
    args: ['-p', '--output-format', 'json', '--model', '{model}'],
    output: 'json',
    session_path: 'session_id',
    error_path: 'is_error',
    cost_path: 'total_cost_usd',
    usage_path: 'usage',
    turns_path: 'num_turns',
    resume_args: ['--resume', '{resume_token}'],
  });
}


function input(overrides: Partial<CommandInput>): CommandInput {
  return { prompt: '', model: undefined, resumeToken: undefined, workdir: WORKDIR, allowedTools: undefined, agentMcp: false, env: {}, ...overrides };
}

let tmp: string;
let fileCount = 0;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-command-host-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Output as the executor leaves it: a file on disk, seen through capturedFile. */
function captured(content: string | Buffer): CapturedOutput {
  const file = path.join(tmp, `out-${fileCount++}.log`);
  fs.writeFileSync(file, content);
  return capturedFile(file);
}

function exitInfo(): ExitInfo {
  return { exitCode: 0, signal: null, stderr: captured('') };
}

describe('buildBatchCommand', () => {
  it('puts the prompt in its argument with prompt_via arg, and substitutes {model} and {workdir}', () => {
    const host = hostFor({
      adapter: 'command',
      command: 'agent',
      prompt_via: 'arg',
      args: ['run', '--model={model}', '--cwd', '{workdir}', '--', '{prompt}'],
    });
    const spec = host.buildBatchCommand({ prompt: 'fix the bug', model: 'big-1', resumeToken: undefined, workdir: WORKDIR, ...UNSET });
    expect(spec.command).toBe('agent');
    expect(spec.args).toEqual(['run', '--model=big-1', '--cwd', WORKDIR, '--', 'fix the bug']);
    expect(spec.stdin).toBeUndefined();
    expect(spec.files).toBeUndefined();
  });

  it('sends the prompt on stdin with prompt_via stdin, and keeps it out of argv', () => {
    const host = hostFor({ adapter: 'command', command: 'agent', args: ['-p'] });
    const spec = host.buildBatchCommand({ prompt: 'fix the bug', model: undefined, resumeToken: undefined, workdir: WORKDIR, ...UNSET });
    expect(spec.args).toEqual(['-p']);
    expect(spec.stdin).toBe('fix the bug');
    expect(spec.files).toBeUndefined();
  });

  it('writes the prompt to .fracta/prompt.md with prompt_via file, and passes its absolute path', () => {
    const host = hostFor({ adapter: 'command', command: 'agent', prompt_via: 'file', args: ['--prompt-file', '{prompt_file}'] });
    const spec = host.buildBatchCommand({ prompt: 'fix the bug', model: undefined, resumeToken: undefined, workdir: WORKDIR, ...UNSET });
    expect(spec.args).toEqual(['--prompt-file', path.join(WORKDIR, '.fracta', 'prompt.md')]);
    expect(spec.files).toEqual([{ path: '.fracta/prompt.md', content: 'fix the bug' }]);
    expect(spec.stdin).toBeUndefined();
  });

  describe('with prompt_via arg', () => {
    const host = () => hostFor({ adapter: 'command', command: 'agent', prompt_via: 'arg', args: ['-p', '--', '{prompt}'] });
    const build = (prompt: string) => host().buildBatchCommand({ prompt, model: undefined, resumeToken: undefined, workdir: WORKDIR, ...UNSET });

    it('keeps a prompt that starts with -- as one argv element after --', () => {
      expect(build('--help --version').args).toEqual(['-p', '--', '--help --version']);
    });

    it('passes shell syntax in a prompt literally', () => {
      const prompt = "$(touch /tmp/x) `id` ; rm -rf ~ && echo 'hi' | cat > out \"$HOME\"";
      expect(build(prompt).args).toEqual(['-p', '--', prompt]);
    });

    it('does not expand placeholder names or replacement patterns inside the prompt', () => {
      const prompt = 'use {model} in {workdir}, not $& or $1';
      expect(build(prompt).args).toEqual(['-p', '--', prompt]);
    });

    it('keeps newlines inside the one prompt argument', () => {
      expect(build('line 1\nline 2\n').args).toHaveLength(3);
    });

    it('accepts a prompt of exactly the largest argument Linux allows', () => {
      const prompt = 'x'.repeat(MAX_ARG_BYTES);
      expect(build(prompt).args[2]).toHaveLength(MAX_ARG_BYTES);
    });

    it('refuses a prompt over 128 KiB with prompt_too_long, pointing at prompt_via: stdin', () => {
      const error = thrown(() => build('x'.repeat(128 * 1024)));
      expect(error.code).toBe('prompt_too_long');
      expect(error.field).toBe('task');
      expect(error.message).toContain('prompt_via: stdin');
      expect(error.message).toContain('runtime "x"');
      expect(error.message).toContain('131072 bytes');
    });

    it('counts the limit in bytes, not characters', () => {
      // 65,536 two-byte characters: half the limit in characters, exactly 128 KiB in UTF-8.
      const error = thrown(() => build('é'.repeat(64 * 1024)));
      expect(error.code).toBe('prompt_too_long');
    });
  });

  it('passes a prompt over 128 KiB on stdin without complaint', () => {
    const host = hostFor({ adapter: 'command', command: 'agent' });
    const prompt = 'y'.repeat(1024 * 1024);
    expect(host.buildBatchCommand({ prompt, model: undefined, resumeToken: undefined, workdir: WORKDIR, ...UNSET }).stdin).toBe(prompt);
  });

  it('refuses {model} in args when no model is set, with invalid_input naming the model', () => {
    const host = hostFor({ adapter: 'command', command: 'agent', args: ['--model', '{model}'] });
    const error = thrown(() => host.buildBatchCommand({ prompt: 'p', model: undefined, resumeToken: undefined, workdir: WORKDIR, ...UNSET }));
    expect(error.code).toBe('invalid_input');
    expect(error.field).toBe('model');
    expect(error.message).toContain('runtime "x"');
    expect(error.message).toContain('{model}');
  });

  it('does not need a model when {model} is not in args', () => {
    const host = hostFor({ adapter: 'command', command: 'agent', args: ['-p'] });
    expect(host.buildBatchCommand({ prompt: 'p', model: undefined, resumeToken: undefined, workdir: WORKDIR, ...UNSET }).args).toEqual(['-p']);
  });

  describe('resume_args', () => {
    const settings = { adapter: 'command', command: 'agent', args: ['-p'], resume_args: ['--resume', '{resume_token}'] };

    it('are appended after args when there is a resume token', () => {
      const spec = hostFor(settings).buildBatchCommand({ prompt: 'p', model: undefined, resumeToken: 'sess-42', workdir: WORKDIR, ...UNSET });
      expect(spec.args).toEqual(['-p', '--resume', 'sess-42']);
    });

    it('are left out without a resume token', () => {
      const spec = hostFor(settings).buildBatchCommand({ prompt: 'p', model: undefined, resumeToken: undefined, workdir: WORKDIR, ...UNSET });
      expect(spec.args).toEqual(['-p']);
    });
  });

  it('builds a claude-like command: model in args, prompt on stdin, resume at the end', () => {
    const spec = claudeLikeCommand().buildBatchCommand({ prompt: 'hello', model: 'opus', resumeToken: 'abc', workdir: WORKDIR, ...UNSET });
    expect(spec.command).toBe('claude');
    expect(spec.args).toEqual(['-p', '--output-format', 'json', '--model', 'opus', '--resume', 'abc']);
    expect(spec.stdin).toBe('hello');
  });

  it('builds from a RuntimeConfig handed straight to the adapter', () => {
    const runtime: RuntimeConfig<Parameters<typeof commandAdapter.create>[0]['options']> = {
      name: 'direct',
      adapter: 'command',
      description: undefined,
      model: undefined,
      modelTiers: {},
      env: {},
      timeoutS: undefined,
      cleanup: undefined,
      idleTimeoutS: undefined,
      maxConcurrent: undefined,
      inheritEnv: undefined,
      backend: undefined,
      kubernetes: undefined,
      options: { command: 'agent', args: ['{prompt}'], prompt_via: 'arg', output: 'text', result_path: 'result' },
    };
    const host = commandAdapter.create(runtime);
    expect(host.command()).toBe('agent');
    expect(host.buildBatchCommand({ prompt: 'hi', model: undefined, resumeToken: undefined, workdir: WORKDIR, ...UNSET }).args).toEqual(['hi']);
  });
});

describe('capabilities and tiers', () => {
  it('has the resumeToken capability only when resume_args are set, and nothing else', () => {
    const plain = hostFor({ adapter: 'command', command: 'agent' });
    const resumable = hostFor({ adapter: 'command', command: 'agent', resume_args: ['--resume', '{resume_token}'] });
    expect(plain.capabilities()).toEqual({ stream: false, resumeToken: false, agentMcp: false, toolPermissions: false });
    expect(resumable.capabilities()).toEqual({ stream: false, resumeToken: true, agentMcp: false, toolPermissions: false });
  });

  it('puts a command host at the Batch tier, with or without resume', () => {
    const config = parseConfig(
      {
        agents: {
          agent_runtimes: {
            plain: { adapter: 'command', command: 'agent' },
            resumable: { adapter: 'command', command: 'agent', resume_args: ['--resume', '{resume_token}'] },
          },
        },
      },
      FILE, ADAPTERS,
    );
    const registry = RuntimeRegistry.fromConfig(config);
    expect(registry.resolve('plain').tier).toBe('Batch');
    expect(registry.resolve('resumable').tier).toBe('Batch');
    expect(registry.resolve('claude').tier).toBe('Full-Agent');
    expect(registry.resolve('claude').capabilities.resumeToken).toBe(true);
  });

  it('derives the tier from capabilities: Batch, Interactive, Full-Agent', () => {
    expect(tierOf(NO_CAPABILITIES)).toBe('Batch');
    expect(tierOf({ ...NO_CAPABILITIES, resumeToken: true, agentMcp: true, toolPermissions: true })).toBe('Batch');
    expect(tierOf({ ...NO_CAPABILITIES, stream: true })).toBe('Interactive');
    expect(tierOf({ ...NO_CAPABILITIES, stream: true, resumeToken: true })).toBe('Interactive');
    expect(tierOf({ ...NO_CAPABILITIES, stream: true, agentMcp: true })).toBe('Interactive');
    expect(tierOf({ stream: true, resumeToken: true, agentMcp: true, toolPermissions: false })).toBe('Full-Agent');
    expect(tierOf({ stream: true, resumeToken: true, agentMcp: true, toolPermissions: true })).toBe('Full-Agent');
  });

  it('refuses to build a stream command with stream_not_supported', () => {
    const host = hostFor({ adapter: 'command', command: 'agent' });
    expect(thrown(() => host.buildStreamCommand(input({ prompt: 'p' }))).code).toBe('stream_not_supported');
  });

  it('names an unknown runtime and lists the configured ones', () => {
    const registry = RuntimeRegistry.fromConfig(parseConfig({}, null, ADAPTERS));
    const error = thrown(() => registry.resolve('ghost'));
    expect(error.code).toBe('unknown_runtime');
    expect(error.message).toContain('"ghost"');
    expect(error.message).toContain('claude');
  });
});

describe('parseText', () => {
  it('returns the output without its trailing newline', () => {
    expect(parseText(captured('all done\n'))).toEqual({ output: 'all done', isError: false, warnings: [] });
    expect(parseText(captured('all done\r\n')).output).toBe('all done');
  });

  it('returns output without a trailing newline as it is', () => {
    expect(parseText(captured('all done')).output).toBe('all done');
  });

  it('strips only the last newline and keeps inner ones', () => {
    expect(parseText(captured('line 1\nline 2\n\n')).output).toBe('line 1\nline 2\n');
  });

  it('returns an empty string for no output', () => {
    expect(parseText(captured('')).output).toBe('');
  });

  it('returns a text of exactly the kept size whole, without outputBytes', () => {
    const text = 'z'.repeat(TEXT_KEEP_CHARS);
    const result = parseText(captured(text));
    expect(result.output).toBe(text);
    expect(result.outputBytes).toBeUndefined();
  });

  it('keeps the tail of a big output and reports its full size in outputBytes', () => {
    const text = `START${'x'.repeat(200_000)}THE END\n`;
    const result = parseText(captured(text));
    expect(result.outputBytes).toBe(Buffer.byteLength(text));
    expect(result.output.endsWith('xTHE END')).toBe(true);
    expect(result.output).not.toContain('START');
    expect(result.output.length).toBeLessThanOrEqual(TEXT_KEEP_CHARS);
    expect(result.output.length).toBeGreaterThan(TEXT_KEEP_CHARS - 2);
  });

  it('goes through the host for output: text', () => {
    const host = hostFor({ adapter: 'command', command: 'agent' });
    expect(host.parseBatchOutput(captured('hello\n'), exitInfo()).output).toBe('hello');
  });
});

describe('parseJson', () => {
  const claudeOutput = {
    type: 'result',
    result: 'The bug is fixed.',
    session_id: 'sess-123',
    is_error: false,
    total_cost_usd: 0.0123,
    usage: { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 5, cache_creation_input_tokens: 1, server_tool_use: { n: 1 }, junk: 'x' },
    num_turns: 3,
  };

  it('reads result, session, error flag, cost, usage and turns at their paths', () => {
    const result = claudeLikeCommand().parseBatchOutput(captured(JSON.stringify(claudeOutput)), exitInfo());
    expect(result).toEqual({
      output: 'The bug is fixed.',
      isError: false,
      resumeToken: 'sess-123',
      costUsd: 0.0123,
      usage: { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 5, cache_creation_input_tokens: 1 },
      turns: 3,
      warnings: [],
    });
  });

  it('reports the agent failure when the error path is true', () => {
    const result = claudeLikeCommand().parseBatchOutput(captured(JSON.stringify({ ...claudeOutput, is_error: true })), exitInfo());
    expect(result.isError).toBe(true);
  });

  it('follows dotted paths into nested objects', () => {
    const host = hostFor({
      adapter: 'command',
      command: 'agent',
      output: 'json',
      result_path: 'data.text',
      session_path: 'meta.session.id',
      cost_path: 'meta.cost',
    });
    const text = JSON.stringify({ data: { text: 'nested answer' }, meta: { session: { id: 's-9' }, cost: 2 } });
    expect(host.parseBatchOutput(captured(text), exitInfo())).toMatchObject({ output: 'nested answer', resumeToken: 's-9', costUsd: 2 });
  });

  it('parses the JSON line after a banner line', () => {
    const text = `Loading model...\nWarning: something\n${JSON.stringify(claudeOutput)}\n`;
    expect(claudeLikeCommand().parseBatchOutput(captured(text), exitInfo()).output).toBe('The bug is fixed.');
  });

  it('parses a pretty-printed JSON object that is the whole output', () => {
    expect(parseJson(captured(`${JSON.stringify(claudeOutput, null, 2)}\n`), { result: 'result' }).output).toBe('The bug is fixed.');
  });

  it('throws OutputParseError (output_unparsable) with a preview for output that is not JSON', () => {
    let error: unknown;
    try {
      parseJson(captured('Error: not logged in.\n  Run claude login.\n'), { result: 'result' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OutputParseError);
    expect(error).toBeInstanceOf(FractaError);
    expect((error as FractaError).code).toBe('output_unparsable');
    expect((error as Error).message).toBe('expected a JSON object on stdout, got: Error: not logged in. Run claude login.');
  });

  it('says (empty) for no output at all', () => {
    expect(() => parseJson(captured(''), { result: 'result' })).toThrow('got: (empty)');
  });

  it('cuts the preview of a long non-JSON output at 200 characters', () => {
    const error = thrown(() => parseJson(captured('n'.repeat(1000)), { result: 'result' }));
    expect(error.message).toBe(`expected a JSON object on stdout, got: ${'n'.repeat(200)}…`);
  });

  it('refuses a JSON array: it wants an object', () => {
    expect(thrown(() => parseJson(captured('[{"result":"x"}]'), { result: 'result' })).code).toBe('output_unparsable');
  });

  it('names result_path and the keys there are when the result is missing', () => {
    const error = thrown(() => parseJson(captured('{"message":"hi","session_id":"s"}'), { result: 'result' }));
    expect(error.code).toBe('output_unparsable');
    expect(error.message).toBe('the JSON output has no string at "result" (result_path); its keys are: message, session_id');
  });

  it('refuses a result that is not a string', () => {
    expect(thrown(() => parseJson(captured('{"result":42}'), { result: 'result' })).message).toContain('no string at "result"');
  });

  it('warns, and gives no resume token, when the session path is missing', () => {
    const result = parseJson(captured('{"result":"ok"}'), { result: 'result', session: 'session_id' });
    expect(result.resumeToken).toBeUndefined();
    expect(result.warnings).toEqual(['the JSON output has no string at "session_id" (session_path): no resume token for this run']);
  });

  it('ignores cost, usage and turns of the wrong type', () => {
    const text = JSON.stringify({ result: 'ok', cost: '0.1', usage: 'lots', turns: '3' });
    const result = parseJson(captured(text), { result: 'result', cost: 'cost', usage: 'usage', turns: 'turns' });
    expect(result).toMatchObject({ costUsd: undefined, usage: undefined, turns: undefined, isError: false });
  });

  it('refuses to parse more than 16 MiB of output, naming its size', () => {
    const big = Buffer.alloc(16 * 1024 * 1024 + 1, 'a');
    const error = thrown(() => parseJson(captured(big), { result: 'result' }));
    expect(error.code).toBe('output_unparsable');
    expect(error.message).toContain(`${big.length} bytes`);
  });
});

describe('capturedFile', () => {
  it('reports the size in bytes and reads the whole text up to maxBytes', () => {
    const out = captured('héllo');
    expect(out.bytes).toBe(6);
    expect(out.readText(6)).toBe('héllo');
    expect(out.readText(5)).toBeNull();
  });

  it('reads a missing file as empty', () => {
    const out = capturedFile(path.join(tmp, 'never-written.log'));
    expect(out.bytes).toBe(0);
    expect(out.readText(10)).toBe('');
    expect(out.tail(10)).toBe('');
  });

  it('returns the last characters with tail', () => {
    expect(captured('abcdefghij').tail(3)).toBe('hij');
    expect(captured('abc').tail(10)).toBe('abc');
  });

  it('does not cut a multi-byte UTF-8 character in half at the start of the tail', () => {
    // Two- and three-byte characters, so the byte window starts inside a character for some counts.
    const text = `abc${'é'.repeat(10)}€€${'ü'.repeat(3)}`;
    const out = captured(text);
    for (let count = 1; count <= text.length; count++) {
      const tail = out.tail(count);
      expect(tail).not.toContain('\uFFFD');
      expect(tail).toBe(text.slice(text.length - count));
    }
  });

  it('does not cut a multi-byte character in half in a window of a large file', () => {
    const text = `${'€'.repeat(50_000)}end`;
    const tail = captured(text).tail(1001);
    expect(tail).toBe(`${'€'.repeat(998)}end`);
  });

  // JS strings count UTF-16 units: an emoji is two, and a tail must not start with half of one.
  it('does not cut a 4-byte character (a surrogate pair) in half', () => {
    const tail = captured(`a${'😀'.repeat(5)}`).tail(3);
    expect(tail.charCodeAt(0) >= 0xdc00 && tail.charCodeAt(0) <= 0xdfff).toBe(false);
  });
});
