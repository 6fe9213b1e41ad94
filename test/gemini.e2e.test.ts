/**
 * MCP client → fracta mcp → the real gemini-cli 0.61.0 → a scripted Gemini API on 127.0.0.1. Each
 * test asserts on what the model server received and what fracta returned. Every gemini gets its own
 * HOME, TMPDIR and "user" gemini home inside the test's sandbox; fracta gives each run its own
 * GEMINI_CLI_HOME in the workspace on top of that.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ECHO_AGENT, ROOT, onCleanup, runCleanups, startServer, structured, text, type Server, askAndAnswer } from './helpers/harness.js';
import { startGeminiServer, type GeminiServer } from './model-server/gemini.js';

afterEach(runCleanups);

const GEMINI = path.join(ROOT, 'node_modules/.bin/gemini');
/** A gemini run takes 3–20 s of a shared 2-core machine (startup compiles 96 MB of JS); tests with several get room. */
const HEAVY_MS = 180_000;

interface GeminiSetup {
  readonly server: Server;
  readonly model: GeminiServer;
  /** The "user's" gemini home the runtime's env names (GEMINI_CLI_HOME). */
  readonly userHome: string;
}

/** GEMINI_CLI_NO_RELAUNCH skips gemini's relaunch of itself in a second node (for a larger heap): a second less per run. */
function geminiRuntime(name: string, baseUrl: string, dir: string, extra = ''): string {
  return `
    ${name}:
      adapter: gemini
      command: ${GEMINI}
      model: gemini-fake-flash
      model_tiers: { heavy: gemini-fake-pro, medium: gemini-fake-flash, light: gemini-fake-lite }
      max_attempts: 1
      retry_fetch_errors: false
      env:
        HOME: ${dir}/home
        TMPDIR: ${dir}/tmp
        GEMINI_CLI_HOME: ${dir}/gemini-user
        GOOGLE_GEMINI_BASE_URL: ${baseUrl}
        GEMINI_CLI_NO_RELAUNCH: "true"
        GEMINI_API_KEY: fake-gemini-key
${extra}`;
}

/** Usage every reply reports in the budget test, and fracta.yaml's price of the model (per million tokens). */
const FIXED_USAGE = { input_tokens: 1500, output_tokens: 200 };
const PRICE = { input: 0.3, output: 2.5 };

async function startGemini(options: { usage?: typeof FIXED_USAGE } = {}): Promise<GeminiSetup> {
  const model = await startGeminiServer(options.usage ? { usage: options.usage } : {});
  onCleanup(() => model.close());
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fracta-gemini-'));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['home', 'tmp', 'gemini-user/.gemini']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  // What a user who chose API-key auth has; their own servers must not reach the child.
  fs.writeFileSync(
    path.join(dir, 'gemini-user/.gemini/settings.json'),
    JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } }, mcpServers: { users_own: { command: 'false' } } }),
  );
  const config = `
pricing:
  gemini-fake-flash: { input: ${PRICE.input}, output: ${PRICE.output} }
agents:
  default_runtime: gemini
  kill_grace_s: 1
  session_idle_timeout_s: 120
  agent_runtimes:
${geminiRuntime('gemini', model.url, dir)}
${geminiRuntime('gemini-offline', 'http://127.0.0.1:1', dir)}
${geminiRuntime('gemini-narrow', model.url, dir, '      permissions:\n        allowed_tools: ["read_file", "run_shell_command(touch)"]\n')}
    echo-agent:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      env:
        AGENT_TOKEN: "\${GRANDCHILD_SECRET}"
`;
  const server = await startServer({ config, env: { GRANDCHILD_SECRET: 'sk-grandchild-only-5c2e' } });
  return { server, model, userHome: path.join(dir, 'gemini-user') };
}

/** Texts of every turn of the last conversation request, oldest first. */
function lastRequestTexts(model: GeminiServer): string[] {
  const last = model.messages().at(-1)!;
  return (last.body.contents as Array<{ role: string; parts: Array<Record<string, unknown>> }>).map((content) => JSON.stringify(content.parts));
}

function runsDir(server: Server): string {
  return path.join(server.sandbox.home, 'runs');
}

/** The record once the run has ended or awaits input (a queued run waits for a slot first): wait is capped at 50 s a call, and a loaded machine may need more. */
async function settled(server: Server, record: Record<string, any>): Promise<Record<string, any>> {
  let current = record;
  while ((current.status === 'queued' || current.status === 'running') && !current.awaiting_input) {
    current = structured(await server.call('wait', { run_id: current.run_id, timeout_s: 50 }, { timeout: 90_000 }));
  }
  return current;
}

/** ms from a run's start (after any time queued for a slot) to its end. */
function duration(record: Record<string, any>): number {
  return Date.parse(record.ended_at) - Date.parse(record.started_at ?? record.created_at);
}

describe('gemini runtime', () => {
  it('runtimes shows gemini as Full-Agent with its capabilities, models and tiers', async () => {
    const { server } = await startGemini();
    const runtimes = structured(await server.call('runtimes', {})).runtimes;
    expect(runtimes.find((r: any) => r.name === 'gemini')).toMatchObject({
      host: 'gemini',
      tier: 'Full-Agent',
      capabilities: { stream: true, resumeToken: true, agentMcp: true, toolPermissions: true },
      model: 'gemini-fake-flash',
      model_tiers: { heavy: 'gemini-fake-pro', medium: 'gemini-fake-flash', light: 'gemini-fake-lite' },
      command_path: GEMINI,
    });
  });

  it('batch: the result and session id come back, the run had a home of its own; it resumes by token and by run id in its workspace', async () => {
    const { server, model, userHome } = await startGemini();
    const result = await server.call('spawn', { task: 'remember the word pelican', tier: 'heavy', wait_s: 50 }, { timeout: 90_000 });
    const record = await settled(server, structured(result));
    expect(result.isError).toBeFalsy();
    expect(record).toMatchObject({ status: 'succeeded', host: 'gemini', tier: 'Full-Agent', model: 'gemini-fake-pro', output: 'FAKE-OK: remember the word pelican', exit_code: 0 });
    expect(record.resume_token).toMatch(/^[0-9a-f-]{36}$/);
    expect(record.usage.output_tokens).toBeGreaterThan(0);
    expect(record.warnings).toEqual([]);
    const [request] = model.messages();
    expect(request!.model).toBe('gemini-fake-pro');
    expect(request!.lastUserText).toBe('remember the word pelican');
    expect(request!.headers['x-goog-api-key']).toBe('fake-gemini-key');
    // The user's own servers stayed out; the session lives in the run's home, not the user's.
    const settings = JSON.parse(fs.readFileSync(path.join(record.workspace, '.fracta/gemini/.gemini/settings.json'), 'utf8'));
    expect(settings.security.auth.selectedType).toBe('gemini-api-key');
    expect(settings.mcpServers).toBeUndefined();
    expect(fs.readdirSync(path.join(record.workspace, '.fracta/gemini/.gemini/tmp')).length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(userHome, '.gemini/tmp'))).toBe(false);

    // Resumed in the session's workspace: the second request carries the first turn.
    const byToken = await settled(server, structured(await server.call('spawn', { task: 'what was the word?', resume_token: record.resume_token, wait_s: 50 }, { timeout: 90_000 })));
    expect(byToken).toMatchObject({ status: 'succeeded', resume_token: record.resume_token, resumed_from: record.run_id, workspace: record.workspace, output: 'FAKE-OK: what was the word?' });
    expect(lastRequestTexts(model).join('\n')).toContain('remember the word pelican');

    const byRun = await settled(server, structured(await server.call('spawn', { task: 'and again?', resume_run: record.run_id, wait_s: 50 }, { timeout: 90_000 })));
    expect(byRun).toMatchObject({ status: 'succeeded', resume_token: record.resume_token, workspace: record.workspace });
    const texts = lastRequestTexts(model).join('\n');
    expect(texts).toContain('remember the word pelican');
    expect(texts).toContain('what was the word?');
    expect(byRun.argv).toEqual(expect.arrayContaining([`--resume=${record.resume_token}`]));
  }, HEAVY_MS);

  it('streams: progress notifications reach the client, events land on disk, a follow-up send resumes the session in a new process', async () => {
    const { server, model } = await startGemini();
    const progress: string[] = [];
    const first = await settled(server, structured(
      (await server.client.callTool({ name: 'spawn', arguments: { task: 'first live message', stream: true, wait_s: 50 } }, undefined, {
        onprogress: (note) => progress.push(note.message ?? ''),
        timeout: 90_000,
      })) as any,
    ));
    expect(first).toMatchObject({ status: 'running', stream: true, awaiting_input: true, turns_done: 1, output: 'FAKE-OK: first live message' });
    expect(progress.some((line) => line.includes('session started'))).toBe(true);
    expect(progress.some((line) => line.includes('turn done: FAKE-OK: first live message'))).toBe(true);

    const second = await settled(server, structured(await server.call('send', { run_id: first.run_id, message: 'second live message', wait_s: 50 }, { timeout: 90_000 })));
    expect(second).toMatchObject({ status: 'running', awaiting_input: true, turns_done: 2, output: 'FAKE-OK: second live message', resume_token: first.resume_token });
    expect(lastRequestTexts(model).join('\n')).toContain('first live message');
    expect(model.messages().at(-1)!.lastUserText).toBe('second live message');

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
    expect(events.find((event) => event.type === 'user').text).toBe('second live message');
  }, HEAVY_MS);

  it('a tool gemini does not allow is not run (with a warning), allowed_tools lets it run, and a wider request is refused', async () => {
    const { server, model } = await startGemini();
    // Both at once: gemini takes seconds to start.
    const [deniedStart, allowedStart] = await Promise.all([
      server.call('spawn', { task: '[tool:run_shell_command {"command":"touch denied.txt"}]', wait_s: 0 }),
      server.call('spawn', { task: '[tool:run_shell_command {"command":"touch allowed.txt"}]', allowed_tools: ['run_shell_command(touch)'], wait_s: 0 }),
    ]);
    const denied = await settled(server, structured(deniedStart));
    const allowed = await settled(server, structured(allowedStart));

    expect(denied.status).toBe('succeeded');
    expect(denied.warnings.join(' ')).toMatch(/gemini reported failed calls of run_shell_command \(1\).*allowed_tools/);
    expect(fs.existsSync(path.join(denied.workspace, 'denied.txt'))).toBe(false);

    expect(allowed.status).toBe('succeeded');
    expect(allowed.warnings).toEqual([]);
    expect(allowed.argv).toEqual(expect.arrayContaining(['--allowed-tools=run_shell_command(touch)']));
    expect(fs.existsSync(path.join(allowed.workspace, 'allowed.txt'))).toBe(true);
    expect(allowed.output).toMatch(/^FAKE-OK: tool result: /);
    const shellOffered = model.messages().filter((request) => request.toolNames.includes('run_shell_command'));
    expect(shellOffered.length).toBeGreaterThan(0);
    expect(shellOffered.every((request) => request.lastUserText.includes('allowed.txt'))).toBe(true);

    const wider = await server.call('spawn', { task: 'x', runtime: 'gemini-narrow', allowed_tools: ['read_file', 'write_file'] });
    expect(text(wider)).toMatch(/\[invalid_input\] allowed_tools: "write_file" is outside the permissions of runtime "gemini-narrow"/);
  }, HEAVY_MS);

  it('agent_mcp: the child calls fracta spawn, and the grandchild run is its child with the result returned to the model', async () => {
    const { server, model } = await startGemini();
    // The grandchild's runtime needs a secret from fracta's environment, which gemini strips from MCP servers unless passed.
    const call = JSON.stringify({ task: '@env=AGENT_TOKEN', runtime: 'echo-agent', wait_s: 30 });
    const result = await server.call('spawn', { task: `[tool:mcp_fracta_spawn ${call}]`, agent_mcp: true, wait_s: 50 }, { timeout: 100_000 });
    const parent = await settled(server, structured(result));
    expect(parent.status).toBe('succeeded');
    expect(parent.depth).toBe(1);
    const toolResult = model.messages().at(-1)!.toolResults[0]!;
    expect(toolResult.name).toBe('mcp_fracta_spawn');
    expect(toolResult.content).toContain('env AGENT_TOKEN=***');
    expect(parent.output).toMatch(/^FAKE-OK: tool result: /);

    const runs = structured(await server.call('runs', {})).runs;
    const child = runs.find((run: any) => run.runtime === 'echo-agent');
    expect(child).toMatchObject({ status: 'succeeded', parent_run: parent.run_id, root_run: parent.run_id, depth: 2, output: 'env AGENT_TOKEN=***' });
    expect(toolResult.content).toContain(child.run_id);
    const settings = JSON.parse(fs.readFileSync(path.join(parent.workspace, '.fracta/gemini/.gemini/settings.json'), 'utf8'));
    expect(settings.mcpServers.fracta).toMatchObject({ trust: true, env: { FRACTA_PARENT_RUN: parent.run_id, FRACTA_DEPTH: '1', GRANDCHILD_SECRET: '$GRANDCHILD_SECRET' } });
    expect(JSON.stringify(settings)).not.toContain('sk-grandchild-only-5c2e');
    expect(Object.keys(settings.mcpServers)).toEqual(['fracta']);
  }, HEAVY_MS);

  it("ask_parent: the question waits in the parent's wait, and its answer is the tool result gemini's model receives", async () => {
    const { server, model } = await startGemini();
    const { asked, ended } = await askAndAnswer(server, { task: '[tool:mcp_fracta_ask_parent {"question":"Which port?"}]' }, 'port 8443, please');
    expect(asked).toMatchObject({ kind: 'question', question: 'Which port?' });
    expect(ended.status).toBe('succeeded');
    expect(model.messages().at(-1)!.toolResults[0]!.content).toContain('port 8443, please');
  }, HEAVY_MS);

  it('errors come back as clear fracta errors within seconds', async () => {
    const { server } = await startGemini();
    const cases = [
      ['401', { task: '[http:401]' }, 'auth_failed', /Gemini API error 401 UNAUTHENTICATED: fake error 401/],
      ['unknown model (404)', { task: 'hi', model: 'does-not-exist' }, 'unknown_model', /models\/does-not-exist is not found/],
      ['400', { task: '[http:400]' }, 'api_error', /Gemini API error 400 INVALID_ARGUMENT: fake error 400/],
      ['500', { task: '[http:500]' }, 'api_error', /Gemini API error 500 INTERNAL: fake error 500/],
      ['unreachable API', { task: 'hi', runtime: 'gemini-offline' }, 'api_unreachable', /fetch failed/],
      ['401 in a stream', { task: '[http:401]', stream: true }, 'auth_failed', /fake error 401/],
    ] as const;
    // A few at a time (gemini takes seconds of CPU to start); each run is timed from its own record.
    for (const wave of [cases.slice(0, 3), cases.slice(3)]) {
      const started = await Promise.all(wave.map(([, args]) => server.call('spawn', { ...args, wait_s: 0 })));
      for (const [index, [name, , code, message]] of wave.entries()) {
        const runId = structured(started[index]!).run_id;
        let record = await settled(server, structured(started[index]!));
        // A stream's failed turn leaves the session open: its close ends the run with the turn's error.
        if (record.status === 'running' && record.awaiting_input) {
          expect(duration({ ...record, ended_at: new Date().toISOString() })).toBeLessThan(20_000);
          record = structured(await server.call('close', { run_id: runId }));
        } else expect(duration(record)).toBeLessThan(20_000);
        expect({ name, status: record.status, code: record.error?.code }).toEqual({ name, status: 'failed', code });
        expect(record.error.message).toMatch(message);
      }
    }
  }, HEAVY_MS);

  it('a session fracta cannot place is refused before anything starts, never started afresh', async () => {
    const { server, model } = await startGemini();
    const result = await server.call('spawn', { task: 'continue', resume_token: '11111111-2222-3333-4444-555555555555' });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/\[session_not_found\] runtime "gemini" resumes a session only from the folder it started in/);
    expect(model.requests).toHaveLength(0);
    expect(fs.existsSync(runsDir(server))).toBe(false);
  });

  it('spend is the usage gemini reports times the price table, to the cent over two turns of a session', async () => {
    const { server, model } = await startGemini({ usage: FIXED_USAGE });
    const tokens = FIXED_USAGE.input_tokens + FIXED_USAGE.output_tokens;
    const usd = (FIXED_USAGE.input_tokens * PRICE.input + FIXED_USAGE.output_tokens * PRICE.output) / 1e6;
    const first = structured(await server.call('spawn', { task: 'price this turn', stream: true, budget: { usd: 1 }, wait_s: 50 }));
    expect(first).toMatchObject({ status: 'running', awaiting_input: true });
    expect(first.spent.tokens).toBe(model.messages().length * tokens);
    await server.call('send', { run_id: first.run_id, message: 'and this one', wait_s: 50 });
    const ended = structured(await server.call('close', { run_id: first.run_id }));
    const requests = model.messages().length;
    expect(ended.spent.tokens).toBe(requests * tokens);
    expect(ended.spent.usd).toBeCloseTo(requests * usd, 9);
    expect(ended.budget.left.usd).toBeCloseTo(1 - requests * usd, 9);
  });
});
