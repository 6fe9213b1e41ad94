/**
 * MCP client → fracta mcp → the real codex 0.169.0 → a scripted Responses API on 127.0.0.1. Each test
 * asserts on what the model server received and what fracta returned. Every codex gets its own HOME,
 * CODEX_HOME and TMPDIR inside the test's temp folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ECHO_AGENT, ROOT, onCleanup, runCleanups, startServer, structured, text, type Server, askAndAnswer } from './helpers/harness.js';
import { startResponsesServer, type ModelServer } from './model-server/openai-responses.js';

afterEach(runCleanups);

/** The platform binary itself: what the npm wrapper would exec. */
const CODEX = path.join(ROOT, 'node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface CodexSetup {
  readonly server: Server;
  readonly model: ModelServer;
}

function codexRuntime(name: string, baseUrl: string, dir: string, extra = ''): string {
  return `
    ${name}:
      adapter: codex
      command: ${CODEX}
      model: fake-model
      model_tiers: { heavy: fake-large, medium: fake-model, light: fake-mini }
      plugins: false
      provider: { base_url: "${baseUrl}/v1", env_key: FAKE_API_KEY, max_retries: 0 }
      env:
        HOME: ${dir}/home
        CODEX_HOME: ${dir}/home/.codex
        TMPDIR: ${dir}/tmp
        FAKE_API_KEY: sk-fake
${extra}`;
}

/** Usage every reply reports, for the budget test: of 2000 input tokens, 500 come from the cache. */
const FIXED_USAGE = { input_tokens: 2000, output_tokens: 300, cached_tokens: 500 };
/** fracta.yaml's price of fake-model, per million tokens. */
const PRICE = { input: 1.25, output: 10, cache_read: 0.125 };

async function startCodex(options: { usage?: typeof FIXED_USAGE } = {}): Promise<CodexSetup> {
  const model = await startResponsesServer(options.usage ? { usage: options.usage } : {});
  onCleanup(() => model.close());
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fracta-codex-'));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['home/.codex', 'tmp']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const config = `
pricing:
  fake-model: { input: ${PRICE.input}, output: ${PRICE.output}, cache_read: ${PRICE.cache_read} }
agents:
  default_runtime: codex
  kill_grace_s: 1
  agent_runtimes:
${codexRuntime('codex', model.url, dir)}
${codexRuntime('codex-offline', 'http://127.0.0.1:1', dir)}
${codexRuntime('codex-keyless', model.url, dir).replace('        FAKE_API_KEY: sk-fake\n', '')}
${codexRuntime('codex-write', model.url, dir, '      permissions: { sandbox: workspace-write, allowed_tools: [exec_command, web_search] }\n')}
    echo-agent:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
`;
  const server = await startServer({ config });
  return { server, model };
}

function runsDir(server: Server): string {
  return path.join(server.sandbox.home, 'runs');
}

describe('codex runtime', () => {
  it('runtimes shows codex as Full-Agent with its capabilities, models and tiers', async () => {
    const { server } = await startCodex();
    const codex = structured(await server.call('runtimes', {})).runtimes.find((r: any) => r.name === 'codex');
    expect(codex).toMatchObject({
      host: 'codex',
      tier: 'Full-Agent',
      capabilities: { stream: true, resumeToken: true, agentMcp: true, toolPermissions: true },
      model: 'fake-model',
      model_tiers: { heavy: 'fake-large', medium: 'fake-model', light: 'fake-mini' },
      command_path: CODEX,
    });
  });

  it('batch: the answer, thread id and usage come back; the model got the prompt and the tier model', async () => {
    const { server, model } = await startCodex();
    const result = await server.call('spawn', { task: 'say hi from the fake', tier: 'heavy' });
    const record = structured(result);
    expect(result.isError).toBeFalsy();
    expect(record).toMatchObject({ status: 'succeeded', host: 'codex', tier: 'Full-Agent', model: 'fake-large', output: 'FAKE-OK: say hi from the fake', exit_code: 0 });
    expect(record.resume_token).toMatch(UUID);
    expect(record.usage.output_tokens).toBeGreaterThan(0);
    expect(record.warnings).toEqual([expect.stringMatching(/^codex: Model metadata for `fake-large` not found/)]);
    const [request] = model.messages();
    expect(request!.model).toBe('fake-large');
    expect(request!.lastUserText).toBe('say hi from the fake');
    expect(request!.headers['thread-id']).toBe(record.resume_token);
    expect(request!.headers.authorization).toBe('Bearer sk-fake');
  });

  it('streams: progress reaches the client, events land on disk, a follow-up send resumes the thread in a new process', async () => {
    const { server, model } = await startCodex();
    const progress: string[] = [];
    const first = structured(
      (await server.client.callTool({ name: 'spawn', arguments: { task: 'first live message', stream: true, wait_s: 40 } }, undefined, {
        onprogress: (note) => progress.push(note.message ?? ''),
        timeout: 60_000,
      })) as any,
    );
    expect(first).toMatchObject({ status: 'running', stream: true, awaiting_input: true, turns_done: 1, output: 'FAKE-OK: first live message' });
    expect(progress.some((line) => line.includes('session started (model fake-model)'))).toBe(true);
    // Not asserted: the "turn done" progress line, which the client drops when the spawn answer overtakes it.

    const second = structured(await server.call('send', { run_id: first.run_id, message: 'second live message', wait_s: 40 }, { timeout: 60_000 }));
    expect(second).toMatchObject({ status: 'running', awaiting_input: true, turns_done: 2, output: 'FAKE-OK: second live message', resume_token: first.resume_token });
    const last = model.messages().at(-1)!;
    expect(last.userTexts).toEqual(['first live message', 'second live message']);
    expect(last.headers['thread-id']).toBe(first.resume_token);

    const closed = structured(await server.call('close', { run_id: first.run_id }));
    expect(closed).toMatchObject({ status: 'succeeded', awaiting_input: false, output: 'FAKE-OK: second live message' });

    const events = fs
      .readFileSync(first.events_path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const types = events.map((event) => event.type);
    expect(types.filter((type) => type === 'result')).toHaveLength(2);
    expect(types.filter((type) => type === 'init')).toHaveLength(2);
    expect(types).toContain('text');
    expect(types).toContain('usage');
    expect(events.find((event) => event.type === 'user').text).toBe('second live message');
  });

  it('resumes by token and by run id: the second request carries the first turn', async () => {
    const { server, model } = await startCodex();
    const first = structured(await server.call('spawn', { task: 'remember the word pelican' }));
    expect(first.status).toBe('succeeded');

    const byToken = structured(await server.call('spawn', { task: 'what was the word?', resume_token: first.resume_token }));
    expect(byToken).toMatchObject({ status: 'succeeded', resume_token: first.resume_token, output: 'FAKE-OK: what was the word?' });
    // codex could resume from any folder, but the session's files are in the first run's workspace.
    expect(byToken).toMatchObject({ workspace: first.workspace, workspace_mode: 'shared', resumed_from: first.run_id });
    expect(model.messages().at(-1)!.userTexts).toEqual(['remember the word pelican', 'what was the word?']);

    const byRun = structured(await server.call('spawn', { task: 'and again?', resume_run: first.run_id }));
    expect(byRun).toMatchObject({ status: 'succeeded', resume_token: first.resume_token, resumed_from: first.run_id });
    expect(model.messages().at(-1)!.userTexts).toEqual(['remember the word pelican', 'what was the word?', 'and again?']);
  });

  it('a resume token that is not a codex thread id is refused before anything starts; an unknown thread is session_not_found', async () => {
    const { server, model } = await startCodex();
    const refused = await server.call('spawn', { task: 'continue', resume_token: 'not-a-thread' });
    expect(text(refused)).toMatch(/\[invalid_input\] resume_token: "not-a-thread" is not a codex session id/);
    expect(fs.existsSync(runsDir(server))).toBe(false);

    const unknown = structured(await server.call('spawn', { task: 'continue', resume_token: '01a20b50-4122-7912-96db-7394f34d8b45' }));
    expect(unknown).toMatchObject({ status: 'failed', error: { code: 'session_not_found', message: expect.stringMatching(/no rollout found for thread id/) } });
    expect(model.messages()).toHaveLength(0);
  });

  it('tool permissions: the default read-only sandbox blocks a write; a runtime allowing writes lets it run; allowed_tools narrows the tools', async () => {
    const { server, model } = await startCodex();
    const blocked = structured(await server.call('spawn', { task: '[tool:exec_command {"cmd":"touch blocked.txt"}]' }));
    expect(blocked.status).toBe('succeeded');
    expect(fs.existsSync(path.join(blocked.workspace, 'blocked.txt'))).toBe(false);
    expect(model.messages().at(-1)!.toolResults[0]!.content).toContain('Read-only file system');
    // codex now and then leaves out the item of a command its sandbox stopped early (openai/codex#47433).
    if (fs.readFileSync(blocked.stdout_path, 'utf8').includes('"command_execution"')) {
      expect(blocked.warnings.join(' ')).toMatch(/codex's sandbox kept 1 command from writing \(read-only file system\): \/bin\/bash -lc 'touch blocked\.txt'/);
    }

    const allowed = structured(await server.call('spawn', { task: '[tool:exec_command {"cmd":"touch allowed.txt"}]', runtime: 'codex-write', allowed_tools: ['exec_command'] }));
    expect(allowed.status).toBe('succeeded');
    expect(fs.existsSync(path.join(allowed.workspace, 'allowed.txt'))).toBe(true);
    expect(allowed.output).toMatch(/^FAKE-OK: tool result: .*Process exited with code 0/s);
    expect(allowed.argv).toEqual(expect.arrayContaining(['--sandbox', 'workspace-write', '--disable', 'goals']));
    expect(model.messages().at(-1)!.toolNames).toContain('exec_command');
    expect(model.messages().at(-1)!.toolNames).not.toContain('web_search');

    const noShell = structured(await server.call('spawn', { task: '[tool:exec_command {"cmd":"touch nope.txt"}]', runtime: 'codex-write', allowed_tools: ['web_search'] }));
    expect(noShell.output).toBe('FAKE-OK: tool result: unsupported call: exec_command');
    expect(model.messages().at(-1)!.toolNames).not.toContain('exec_command');
    expect(fs.existsSync(path.join(noShell.workspace, 'nope.txt'))).toBe(false);
    expect(noShell.warnings.join(' ')).toMatch(/codex cannot switch off apply_patch/);

    const before = model.messages().length;
    const wider = await server.call('spawn', { task: 'x', runtime: 'codex-write', allowed_tools: ['exec_command', 'apply_patch'] });
    expect(text(wider)).toMatch(/\[invalid_input\] allowed_tools: "apply_patch" is outside the permissions of runtime "codex-write"/);
    expect(model.messages()).toHaveLength(before);
  });

  it('agent_mcp: the child calls fracta spawn, and the grandchild run is its child with the result returned to the model', async () => {
    const { server, model } = await startCodex();
    const call = JSON.stringify({ task: 'grandchild work', runtime: 'echo-agent', wait_s: 30 });
    const result = await server.call('spawn', { task: `[tool:mcp__fracta__spawn ${call}]`, agent_mcp: true, wait_s: 50 }, { timeout: 90_000 });
    const parent = structured(result);
    expect(parent.status).toBe('succeeded');
    expect(parent.depth).toBe(1);
    const [firstRequest] = model.messages();
    expect(firstRequest!.toolNames).toEqual(expect.arrayContaining(['mcp__fracta__spawn', 'mcp__fracta__wait']));
    const toolResult = model.messages().at(-1)!.toolResults[0]!;
    expect(toolResult.content).toContain('echo: grandchild work');
    expect(parent.output).toMatch(/^FAKE-OK: tool result: /);

    const runs = structured(await server.call('runs', {})).runs;
    const child = runs.find((run: any) => run.runtime === 'echo-agent');
    expect(child).toMatchObject({ status: 'succeeded', parent_run: parent.run_id, root_run: parent.run_id, depth: 2, output: 'echo: grandchild work' });
    expect(toolResult.content).toContain(child.run_id);
    const launch = JSON.parse(fs.readFileSync(path.join(parent.workspace, '.fracta/codex-mcp.json'), 'utf8'));
    expect(launch.fracta.env).toMatchObject({ FRACTA_PARENT_RUN: parent.run_id, FRACTA_DEPTH: '1' });
  });

  it("ask_parent: the question waits in the parent's wait, and its answer is the tool result codex's model receives", async () => {
    const { server, model } = await startCodex();
    const { asked, ended } = await askAndAnswer(server, { task: '[tool:mcp__fracta__ask_parent {"question":"Which port?"}]' }, 'port 8443, please');
    expect(asked).toMatchObject({ kind: 'question', question: 'Which port?' });
    expect(ended.status).toBe('succeeded');
    expect(model.messages().at(-1)!.toolResults[0]!.content).toContain('port 8443, please');
  });

  describe('errors', () => {
    it('come back as clear fracta errors within seconds: 401, no key, unknown model, 400, 500, unreachable', async () => {
      const { server } = await startCodex();
      const cases = [
        ['401', { task: '[http:401]' }, 'codex', 'auth_failed', /unexpected status 401 Unauthorized: Incorrect API key.*\(give the runtime its API key/],
        ['no API key', { task: 'hi' }, 'codex-keyless', 'auth_failed', /Missing environment variable: `FAKE_API_KEY`/],
        ['unknown model (404)', { task: 'hi', model: 'does-not-exist' }, 'codex', 'unknown_model', /The model `does-not-exist` does not exist/],
        ['400', { task: '[http:400]' }, 'codex', 'api_error', /fake error 400/],
        ['500', { task: '[http:500]' }, 'codex', 'api_error', /experiencing high demand/],
        ['unreachable API', { task: 'hi' }, 'codex-offline', 'api_unreachable', /Connection failed: error sending request/],
      ] as const;
      // All at once: each is its own run (fracta may queue some of them; wait picks those up).
      const outcomes = await Promise.all(
        cases.map(async ([name, args, runtime]) => {
          const started = Date.now();
          let result = await server.call('spawn', { ...args, runtime });
          const record = structured(result);
          if (record.status === 'queued' || record.status === 'running') result = await server.call('wait', { run_id: record.run_id, timeout_s: 30 });
          return { name, result, ms: Date.now() - started };
        }),
      );
      for (const [index, [name, , , code, message]] of cases.entries()) {
        const { result, ms } = outcomes[index]!;
        expect(ms, name).toBeLessThan(20_000);
        expect(structured(result), name).toMatchObject({ status: 'failed', error: { code } });
        expect(structured(result).error.message, name).toMatch(message);
      }
    });

    it('an error in a live session ends its turn as failed', async () => {
      const { server } = await startCodex();
      const record = structured(await server.call('spawn', { task: '[http:401]', stream: true, wait_s: 30 }));
      expect(record.awaiting_input).toBe(true);
      const closed = structured(await server.call('close', { run_id: record.run_id }));
      expect(closed).toMatchObject({ status: 'failed', error: { code: 'auth_failed' } });
    });
  });

  it('spend is the usage codex reports times the price table, cached input at the cache price, to the cent over two turns', async () => {
    const { server, model } = await startCodex({ usage: FIXED_USAGE });
    const perRequest = {
      tokens: FIXED_USAGE.input_tokens + FIXED_USAGE.output_tokens,
      usd: ((FIXED_USAGE.input_tokens - FIXED_USAGE.cached_tokens) * PRICE.input + FIXED_USAGE.cached_tokens * PRICE.cache_read + FIXED_USAGE.output_tokens * PRICE.output) / 1e6,
    };
    const first = structured(await server.call('spawn', { task: 'price this turn', stream: true, budget: { usd: 1 }, wait_s: 50 }));
    expect(first).toMatchObject({ status: 'running', awaiting_input: true });
    const afterOne = model.messages().length;
    expect(first.spent.tokens).toBe(afterOne * perRequest.tokens);
    expect(first.spent.usd).toBeCloseTo(afterOne * perRequest.usd, 6);
    await server.call('send', { run_id: first.run_id, message: 'and this one', wait_s: 50 });
    const ended = structured(await server.call('close', { run_id: first.run_id }));
    const requests = model.messages().length;
    expect(requests).toBeGreaterThan(afterOne);
    // Each turn's usage is the turn's, not the thread's running total: the sum is every request once.
    expect(ended.spent.tokens).toBe(requests * perRequest.tokens);
    expect(ended.spent.usd).toBeCloseTo(requests * perRequest.usd, 6);
    expect(ended.budget.left.usd).toBeCloseTo(1 - requests * perRequest.usd, 6);
    const runtimes = structured(await server.call('runtimes', {})).runtimes;
    expect(runtimes.find((r: any) => r.name === 'codex').money).toBe('pricing');
  });

  it('a resumed run counts only its own turns, though codex reports the thread\'s running total', async () => {
    const { server, model } = await startCodex({ usage: FIXED_USAGE });
    const tokens = FIXED_USAGE.input_tokens + FIXED_USAGE.output_tokens;
    const first = structured(await server.call('spawn', { task: 'first of a thread', wait_s: 50 }));
    expect(first.status).toBe('succeeded');
    const before = model.messages().length;
    expect(first.spent.tokens).toBe(before * tokens);
    const resumed = structured(await server.call('spawn', { task: 'and more', resume_run: first.run_id, wait_s: 50 }));
    expect(resumed.status).toBe('succeeded');
    // What codex said is the thread's (both runs'); what the run spent is its own requests'.
    expect(resumed.usage.input_tokens + resumed.usage.cache_read_input_tokens + resumed.usage.output_tokens).toBe(model.messages().length * tokens);
    expect(resumed.spent.tokens).toBe((model.messages().length - before) * tokens);
  });
});
