/**
 * The fake Anthropic server on its own, then the real claude CLI (the dev dependency) talking to it:
 * batch and stream-json output, tool permissions, resume and a live stream-json session. Every run has
 * its own HOME, TMPDIR and workspace; every process started here is killed after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseToolDirective, startModelServer, type ModelServer, type ModelServerOptions } from './model-server/anthropic.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLAUDE = path.join(ROOT, 'node_modules/@anthropic-ai/claude-code-linux-x64/claude');
const RUN_TIMEOUT_MS = 30_000;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await Promise.resolve().then(cleanups.pop()!).catch(() => undefined);
});

async function server(options?: ModelServerOptions): Promise<ModelServer> {
  const started = await startModelServer(options);
  cleanups.push(() => started.close());
  return started;
}

interface Dirs {
  readonly home: string;
  readonly tmp: string;
  readonly ws: string;
}

function dirs(): Dirs {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-claude-'));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  const made = { home: path.join(root, 'home'), tmp: path.join(root, 'tmp'), ws: path.join(root, 'ws') };
  for (const dir of Object.values(made)) fs.mkdirSync(dir);
  return made;
}

function claudeEnv(url: string, d: Dirs): Record<string, string> {
  return {
    HOME: d.home,
    TMPDIR: d.tmp,
    PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    ANTHROPIC_BASE_URL: url,
    ANTHROPIC_API_KEY: 'sk-ant-fake',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_MAX_RETRIES: '0',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
  };
}

/** Starts claude in its own process group (no shell); the group is killed after the test. */
function startClaude(args: string[], options: { env: Record<string, string>; cwd: string }): ChildProcess {
  const child = spawn(CLAUDE, args, { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stdin!.on('error', () => undefined);
  cleanups.push(() => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  });
  return child;
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runClaude(args: string[], options: { env: Record<string, string>; cwd: string; input: string }): Promise<Run> {
  const child = startClaude(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.end(options.input);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`claude ${args.join(' ')} did not exit in ${RUN_TIMEOUT_MS} ms; stderr: ${stderr}`)), RUN_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function jsonLines(stdout: string): any[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line));
}

const JSON_OUT = ['-p', '--output-format', 'json'];
const STREAM_OUT = ['-p', '--output-format', 'stream-json', '--verbose'];

describe('fake Anthropic server', () => {
  async function post(url: string, body: unknown): Promise<Response> {
    return fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  async function body(response: Response): Promise<any> {
    return response.json();
  }

  function sseEvents(text: string): Array<{ event: string; data: any }> {
    return text
      .split('\n\n')
      .filter((block) => block.trim().length > 0)
      .map((block) => {
        const event = /^event: (.*)$/m.exec(block)![1]!;
        const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]!);
        return { event, data };
      });
  }

  it('answers a plain JSON request with a FAKE-OK message, ignoring system reminders', async () => {
    const fake = await server();
    const response = await post(fake.url, {
      model: 'claude-test',
      max_tokens: 10,
      messages: [{ role: 'user', content: [{ type: 'text', text: '<system-reminder>\ncontext\n</system-reminder>\n' }, { type: 'text', text: 'hello there' }] }],
    });
    expect(response.status).toBe(200);
    const message = await body(response);
    expect(message).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-test', stop_reason: 'end_turn', content: [{ type: 'text', text: 'FAKE-OK: hello there' }] });
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(fake.messages()).toHaveLength(1);
    expect(fake.messages()[0]).toMatchObject({ lastUserText: 'hello there', stream: false, model: 'claude-test' });
  });

  it('streams a tool_use for [tool:NAME {json}] with the SSE events of the real API', async () => {
    const fake = await server();
    const response = await post(fake.url, {
      model: 'm',
      stream: true,
      tools: [{ name: 'mcp__fracta__spawn', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: 'go [tool:mcp__fracta__spawn {"task":"a ] b","n":[1,2]}] now' }],
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseEvents(await response.text());
    expect(events.map((e) => e.event)).toEqual(['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    for (const { event, data } of events) expect(data.type).toBe(event);
    expect(events[2]!.data.content_block).toMatchObject({ type: 'tool_use', name: 'mcp__fracta__spawn', input: {} });
    const json = events.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta.partial_json).join('');
    expect(JSON.parse(json)).toEqual({ task: 'a ] b', n: [1, 2] });
    expect(events[7]!.data.delta.stop_reason).toBe('tool_use');
    expect(fake.messages()[0]!.toolNames).toEqual(['mcp__fracta__spawn']);
  });

  it('answers tool results, [http:NNN], the does-not-exist model and json_schema requests', async () => {
    const fake = await server();
    const toolResult = await post(fake.url, {
      model: 'm',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'ran' }] }] },
      ],
    });
    expect((await body(toolResult)).content[0].text).toBe('FAKE-OK: tool result: ran');

    for (const [status, type] of [[401, 'authentication_error'], [400, 'invalid_request_error'], [404, 'not_found_error'], [500, 'api_error'], [529, 'overloaded_error']] as const) {
      const response = await post(fake.url, { model: 'm', messages: [{ role: 'user', content: `fail [http:${status}]` }] });
      expect(response.status).toBe(status);
      expect(await body(response)).toMatchObject({ type: 'error', error: { type, message: `fake error ${status}` } });
    }

    const missing = await post(fake.url, { model: 'does-not-exist', messages: [{ role: 'user', content: 'hi' }] });
    expect(missing.status).toBe(404);
    expect((await body(missing)).error).toEqual({ type: 'not_found_error', message: 'model: does-not-exist' });

    const title = await post(fake.url, {
      model: 'm',
      messages: [{ role: 'user', content: '[tool:Bash {}] [http:500]' }],
      output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] } } },
    });
    expect(JSON.parse((await body(title)).content[0].text)).toEqual({ title: 'Fake title' });
  });

  it('lets the test script replies, logs every request and answers other routes with 404', async () => {
    const fake = await server({ reply: (req) => (req.lastUserText === 'scripted' ? { type: 'text', text: 'from the script' } : undefined) });
    expect((await body(await post(fake.url, { model: 'm', messages: [{ role: 'user', content: 'scripted' }] }))).content[0].text).toBe('from the script');
    fake.setReply(() => ({ type: 'error', status: 529 }));
    expect((await post(fake.url, { model: 'm', messages: [{ role: 'user', content: 'scripted' }] })).status).toBe(529);
    fake.setReply(() => ({ type: 'tool_use', name: 'Read', input: { file_path: '/x' }, text: 'reading' }));
    expect((await body(await post(fake.url, { model: 'm', messages: [{ role: 'user', content: 'scripted' }] }))).content).toEqual([
      { type: 'text', text: 'reading' },
      { type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'Read', input: { file_path: '/x' } },
    ]);
    fake.setReply(undefined);
    expect((await body(await post(fake.url, { model: 'm', messages: [{ role: 'user', content: 'scripted' }] }))).content[0].text).toBe('FAKE-OK: scripted');

    const head = await fetch(`${fake.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(404);
    const other = await fetch(`${fake.url}/v1/models`);
    expect(other.status).toBe(404);
    expect((await body(other)).error.type).toBe('not_found_error');
    expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /v1/messages 200',
      'POST /v1/messages 529',
      'POST /v1/messages 200',
      'POST /v1/messages 200',
      'HEAD / 404',
      'GET /v1/models 404',
    ]);
    expect(fake.messages()).toHaveLength(4);
  });

  it('parses tool directives, including JSON that holds brackets and none at all', () => {
    expect(parseToolDirective('[tool:Bash {"command":"echo ]"}]')).toEqual({ name: 'Bash', input: { command: 'echo ]' } });
    expect(parseToolDirective('[tool:Read]')).toEqual({ name: 'Read', input: {} });
    expect(parseToolDirective('[tool:Bash {not json}]')).toBeUndefined();
    expect(parseToolDirective('no directive')).toBeUndefined();
  });
});

describe('real claude CLI against the fake server', () => {
  it('-p --output-format json returns the FAKE-OK text and a session id', async () => {
    const fake = await server();
    const d = dirs();
    const run = await runClaude(JSON_OUT, { env: claudeEnv(fake.url, d), cwd: d.ws, input: 'say hi from the fake' });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ type: 'result', subtype: 'success', is_error: false, result: 'FAKE-OK: say hi from the fake', num_turns: 1, permission_denials: [] });
    expect(result.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const [request] = fake.messages();
    expect(request!.path).toBe('/v1/messages?beta=true');
    expect(request!.headers['x-api-key']).toBe('sk-ant-fake');
    expect(request!.headers['anthropic-version']).toBe('2023-06-01');
    expect(request!.headers['x-claude-code-session-id']).toBe(result.session_id);
    expect(request!.stream).toBe(true);
    expect(request!.toolNames).toContain('Bash');
  });

  it('--output-format stream-json --verbose prints init, assistant and result lines', async () => {
    const fake = await server();
    const d = dirs();
    const run = await runClaude(STREAM_OUT, { env: claudeEnv(fake.url, d), cwd: d.ws, input: 'stream please' });
    expect(run.code, run.stderr).toBe(0);
    const lines = jsonLines(run.stdout);
    expect(lines.map((l) => (l.subtype ? `${l.type}/${l.subtype}` : l.type))).toEqual(['system/init', 'assistant', 'result/success']);
    const [init, assistant, result] = lines;
    expect(init).toMatchObject({ cwd: d.ws, permissionMode: 'default', apiKeySource: 'ANTHROPIC_API_KEY', claude_code_version: '2.1.197' });
    expect(assistant.message.content).toEqual([{ type: 'text', text: 'FAKE-OK: stream please' }]);
    expect(result).toMatchObject({ is_error: false, result: 'FAKE-OK: stream please', session_id: init.session_id });
  });

  it('denies a Bash tool call by default: permission_denials is set and no file is made', async () => {
    const fake = await server();
    const d = dirs();
    const run = await runClaude(JSON_OUT, { env: claudeEnv(fake.url, d), cwd: d.ws, input: '[tool:Bash {"command":"touch denied.txt"}]' });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.is_error).toBe(false);
    expect(result.permission_denials).toEqual([{ tool_name: 'Bash', tool_use_id: expect.stringMatching(/^toolu_/), tool_input: { command: 'touch denied.txt' } }]);
    expect(fs.existsSync(path.join(d.ws, 'denied.txt'))).toBe(false);
    const second = fake.messages()[1]!;
    expect(second.toolResults).toEqual([{ tool_use_id: result.permission_denials[0].tool_use_id, content: expect.any(String), is_error: true }]);
  });

  it('runs the Bash tool call when --allowedTools allows it, and sends the tool_result back', async () => {
    const fake = await server();
    const d = dirs();
    const run = await runClaude([...STREAM_OUT, '--allowedTools', 'Bash(touch:*)'], {
      env: claudeEnv(fake.url, d),
      cwd: d.ws,
      input: '[tool:Bash {"command":"touch allowed.txt"}]',
    });
    expect(run.code, run.stderr).toBe(0);
    expect(fs.existsSync(path.join(d.ws, 'allowed.txt'))).toBe(true);
    const lines = jsonLines(run.stdout);
    expect(lines.map((l) => l.type)).toEqual(['system', 'assistant', 'user', 'assistant', 'result']);
    const toolUse = lines[1].message.content[0];
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'Bash', input: { command: 'touch allowed.txt' } });
    expect(lines[4]).toMatchObject({ is_error: false, num_turns: 2, permission_denials: [] });
    const messages = fake.messages();
    expect(messages).toHaveLength(2);
    expect(messages[1]!.toolResults).toEqual([{ tool_use_id: toolUse.id, content: expect.any(String), is_error: false }]);
    expect(lines[4].result).toBe(`FAKE-OK: tool result: ${messages[1]!.toolResults[0]!.content}`);
  });

  it('--resume <session_id> from the same cwd keeps the session and sends the first turn again', async () => {
    const fake = await server();
    const d = dirs();
    const env = claudeEnv(fake.url, d);
    const first = await runClaude(JSON_OUT, { env, cwd: d.ws, input: 'first turn' });
    expect(first.code, first.stderr).toBe(0);
    const sessionId = JSON.parse(first.stdout).session_id;
    const second = await runClaude([...JSON_OUT, '--resume', sessionId], { env, cwd: d.ws, input: 'second turn' });
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ is_error: false, result: 'FAKE-OK: second turn', session_id: sessionId });
    const request = fake.messages().at(-1)!;
    expect(request.lastUserText).toBe('second turn');
    const history = JSON.stringify(request.body.messages);
    expect(history).toContain('first turn');
    expect(history).toContain('FAKE-OK: first turn');
  });

  it('a stream-json input session stays alive between turns and exits 0 when stdin closes', async () => {
    const fake = await server();
    const d = dirs();
    const child = startClaude(['-p', '--input-format', 'stream-json', ...STREAM_OUT.slice(1)], { env: claudeEnv(fake.url, d), cwd: d.ws });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const results = () => jsonLines(stdout).filter((l) => l.type === 'result');
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + RUN_TIMEOUT_MS;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    const say = (content: string) => child.stdin!.write(`${JSON.stringify({ type: 'user', message: { role: 'user', content } })}\n`);

    say('first live message');
    await until(() => stdout.split('\n').some((line) => line.startsWith('{"type":"result"')), 'the first result');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(child.exitCode).toBeNull();
    say('second live message');
    await until(() => results().length === 2, 'the second result');
    expect(results().map((r) => r.result)).toEqual(['FAKE-OK: first live message', 'FAKE-OK: second live message']);
    expect(new Set(jsonLines(stdout).map((l) => l.session_id)).size).toBe(1);
    expect(JSON.stringify(fake.messages()[1]!.body.messages)).toContain('FAKE-OK: first live message');

    child.stdin!.end();
    expect(await exited).toBe(0);
  });

  it('a 401 from the server ends the run with is_error, api_error_status 401 and exit code 1', async () => {
    const fake = await server();
    const d = dirs();
    const run = await runClaude(JSON_OUT, { env: claudeEnv(fake.url, d), cwd: d.ws, input: 'please [http:401]' });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ subtype: 'success', is_error: true, api_error_status: 401, result: 'Failed to authenticate. API Error: 401 fake error 401' });
  });
});
