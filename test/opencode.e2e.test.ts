/**
 * MCP client → fracta mcp → the real opencode 1.18.33 → a scripted OpenAI Chat Completions API on
 * 127.0.0.1. One fracta server and one model server serve the whole file, and the tests run at once
 * (an opencode run costs seconds of CPU; one after another they would not fit the time), so each test
 * finds its own requests by the session id opencode sends (x-session-id) or by its own prompt words.
 * Every opencode gets its own HOME, XDG folders and TMPDIR inside the test's temp folder.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECHO_AGENT, ROOT, onCleanup, runCleanups, startServer, structured, text, type RecordContent, type Server, askAndAnswer } from './helpers/harness.js';
import { startOpenAIChatServer, type ChatRequest, type ChatServer } from './model-server/openai-chat.js';

/** The platform binary itself (what the opencode npm wrapper would run). */
const OPENCODE = path.join(ROOT, 'node_modules/opencode-linux-x64/bin/opencode');

/** From a failed model call to fracta's error: seconds, where opencode by itself retries for a minute. */
const FAILURE_TO_ERROR_MS = 20_000;
const CALL = { timeout: 180_000 };

let server: Server;
let model: ChatServer;
let dir: string;

/**
 * The tests below run at once, and every opencode under one HOME writes one SQLite database: several
 * at a time fail now and then with "database is locked". So each test's runs have a HOME of their own
 * (a runtime per test, `opencode-<home>`); the runs within a test share theirs, as a session must.
 */
const HOMES = ['home', 'batch', 'stream', 'permissions', 'mcp', 'ask', 'e401', 'e404', 'e400', 'e500', 'offline'] as const;
type Home = (typeof HOMES)[number];

/** The child's own HOME and XDG folders, inside the test's temp folder. */
function childEnv(home: Home = 'home'): Record<string, string> {
  return {
    HOME: `${dir}/${home}`,
    TMPDIR: `${dir}/tmp`,
    XDG_CONFIG_HOME: `${dir}/${home}/.config`,
    XDG_DATA_HOME: `${dir}/${home}/.local/share`,
    XDG_CACHE_HOME: `${dir}/${home}/.cache`,
    XDG_STATE_HOME: `${dir}/${home}/.local/state`,
  };
}

function runtime(name: string, baseUrl: string, extra = '', home: Home = 'home'): string {
  const config = {
    provider: {
      fake: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Fake',
        options: { baseURL: baseUrl, apiKey: 'sk-fake' },
        models: { 'fake-model': { name: 'Fake' }, 'fake-heavy': { name: 'Fake heavy' }, 'does-not-exist': { name: 'Not on the server' } },
      },
    },
  };
  return `
    ${name}:
      adapter: opencode
      command: ${OPENCODE}
      model: fake/fake-model
      model_tiers: { heavy: fake/fake-heavy }
      max_retries: 0
      models_fetch: false
      default_plugins: false
      npm_offline: true
      config: ${JSON.stringify(config)}
      env: ${JSON.stringify(childEnv(home))}
${extra}`;
}

/** The scripted part of the model: a run that exercises a denied and an allowed call in one turn. */
function permissionScript(req: ChatRequest) {
  if (!JSON.stringify(req.body?.messages ?? []).includes('PERMISSION-PROBE')) return undefined;
  const results = (req.body.messages as Array<{ role: string }>).filter((message) => message.role === 'tool').length;
  if (results === 0) return { type: 'tool_use' as const, name: 'bash', input: { command: 'rm -f keep.txt', description: 'remove' } };
  if (results === 1) return { type: 'tool_use' as const, name: 'bash', input: { command: 'touch allowed.txt', description: 'create' } };
  return { type: 'text' as const, text: 'FAKE-OK: permissions probed' };
}

beforeAll(async () => {
  model = await startOpenAIChatServer({ reply: permissionScript });
  onCleanup(() => model.close());
  dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fracta-opencode-'));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of [...HOMES, 'tmp']) fs.mkdirSync(path.join(dir, sub));
  // opencode creates its database on first use, and runs that start at once under a fresh HOME race to do
  // it (one fails with "Failed query: CREATE TABLE"): create each before the tests start runs at once.
  for (const home of HOMES) {
    await promisify(execFile)(OPENCODE, ['session', 'list'], { cwd: dir, env: { ...process.env, ...childEnv(home), npm_config_offline: 'true' }, timeout: 60_000 });
  }
  const config = `
agents:
  default_runtime: opencode
  kill_grace_s: 3
  max_concurrent: 10
  max_runtime_concurrent: 10
  agent_runtimes:
${runtime('opencode', `${model.url}/v1`)}
${HOMES.filter((home) => home !== 'home' && home !== 'offline').map((home) => runtime(`opencode-${home}`, `${model.url}/v1`, '', home)).join('\n')}
${runtime('opencode-offline', 'http://127.0.0.1:1/v1', '', 'offline')}
${runtime('opencode-narrow', `${model.url}/v1`, '      permissions:\n        allowed_tools: ["read", "bash(touch *)"]\n')}
    echo-agent:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
`;
  server = await startServer({ config });
}, 180_000);

afterAll(runCleanups, 60_000);

/** A run's record once it is done (or, for a live session, once its turn is), waiting as long as it takes. */
async function settled(record: RecordContent, onprogress?: (note: { message?: string }) => void): Promise<RecordContent> {
  let current = record;
  while (current.status === 'running' && !current.awaiting_input) {
    current = structured(await server.client.callTool({ name: 'wait', arguments: { run_id: current.run_id, timeout_s: 50 } }, undefined, { ...CALL, ...(onprogress ? { onprogress } : {}) }) as any);
  }
  return current;
}

async function spawn(args: Record<string, unknown>): Promise<RecordContent> {
  const result = await server.call('spawn', { wait_s: 50, ...args }, CALL);
  if (result.isError && !result.structuredContent) throw new Error(text(result));
  return settled(structured(result));
}

/** The turns opencode sent for a session (titles left out). */
function requestsOf(session: string): ChatRequest[] {
  return model.messages().filter((req) => req.headers['x-session-id'] === session);
}

/** When the run's model call failed: the fake's answer, or with no server, the time on opencode's error line. */
function failedAt(record: RecordContent): number {
  const [request] = requestsOf(record.resume_token);
  if (request) return request.receivedAt;
  const line = fs.readFileSync(record.stdout_path, 'utf8').split('\n').find((text) => text.includes('"type":"error"'));
  return JSON.parse(line!).timestamp;
}

function conversation(req: ChatRequest): string {
  return JSON.stringify(req.body.messages);
}

/** Status and error first, so that a failure says why. */
function outcome(record: RecordContent): { status: string; error: unknown } {
  return { status: record.status, error: record.error };
}

// Generous: on a busy 2-core machine one opencode start alone has taken 30 s.
describe.concurrent('opencode runtime', { timeout: 300_000 }, () => {
  it('runtimes shows opencode as Full-Agent with its capabilities and models', async () => {
    const runtimes = structured(await server.call('runtimes', {})).runtimes;
    expect(runtimes.find((r: any) => r.name === 'opencode')).toMatchObject({
      host: 'opencode',
      tier: 'Full-Agent',
      capabilities: { stream: true, resumeToken: true, agentMcp: true, toolPermissions: true },
      model: 'fake/fake-model',
      model_tiers: { heavy: 'fake/fake-heavy' },
      command_path: OPENCODE,
    });
  });

  it('batch, then resume by token and by run in the session\'s workspace: each request carries the turns before', async () => {
    const first = await spawn({ task: 'remember the word pelican', tier: 'heavy', runtime: 'opencode-batch' });
    expect(outcome(first)).toEqual({ status: 'succeeded', error: null });
    expect(first).toMatchObject({ status: 'succeeded', host: 'opencode', tier: 'Full-Agent', model: 'fake/fake-heavy', output: 'FAKE-OK: remember the word pelican', exit_code: 0 });
    expect(first.resume_token).toMatch(/^ses_/);
    expect(first.usage.output_tokens).toBeGreaterThan(0);
    expect(first.argv).toEqual(expect.arrayContaining(['run', '--format', 'json', '--model=fake/fake-heavy']));
    const [request] = requestsOf(first.resume_token);
    expect(request!.model).toBe('fake-heavy');
    expect(request!.lastUserText).toBe('remember the word pelican');
    // The prompt went on stdin, and fracta's title spared opencode its title request.
    expect(first.argv.join(' ')).not.toContain('pelican');
    expect(model.requests.filter((req) => req.isTitle)).toEqual([]);

    const byToken = await spawn({ task: 'what was the word?', resume_token: first.resume_token, runtime: 'opencode-batch' });
    expect(byToken).toMatchObject({ status: 'succeeded', resume_token: first.resume_token, resumed_from: first.run_id, workspace: first.workspace, output: 'FAKE-OK: what was the word?' });
    expect(byToken.argv).toEqual(expect.arrayContaining([`--session=${first.resume_token}`]));
    expect(conversation(requestsOf(first.resume_token).at(-1)!)).toContain('remember the word pelican');

    const byRun = await spawn({ task: 'and again?', resume_run: first.run_id, runtime: 'opencode-batch' });
    expect(byRun).toMatchObject({ status: 'succeeded', resume_token: first.resume_token, workspace: first.workspace });
    const texts = conversation(requestsOf(first.resume_token).at(-1)!);
    expect(texts).toContain('remember the word pelican');
    expect(texts).toContain('FAKE-OK: what was the word?');
    expect(requestsOf(first.resume_token)).toHaveLength(3);
  });

  it('streams: progress reaches the client, events land on disk, a follow-up send resumes the session in a new process', async () => {
    const progress: string[] = [];
    const onprogress = (note: { message?: string }) => progress.push(note.message ?? '');
    const started = structured(
      (await server.client.callTool({ name: 'spawn', arguments: { task: 'first live message', stream: true, wait_s: 50, runtime: 'opencode-stream' } }, undefined, { ...CALL, onprogress })) as any,
    );
    const first = await settled(started, onprogress);
    expect(outcome(first)).toEqual({ status: 'running', error: null });
    expect(first).toMatchObject({ status: 'running', stream: true, awaiting_input: true, turns_done: 1, output: 'FAKE-OK: first live message' });
    expect(first.resume_token).toMatch(/^ses_/);
    // Events that come between the spawn call's return and the wait call are on disk, not in progress.
    const lines = progress.join('\n');
    expect(lines).toMatch(new RegExp(`run ${first.run_id}: (session started|says: FAKE-OK: first live message|turn done: FAKE-OK: first live message)`));
    if (started.awaiting_input) expect(lines).toContain(`run ${first.run_id}: turn done: FAKE-OK: first live message`);

    const sent = structured(await server.call('send', { run_id: first.run_id, message: 'second live message', wait_s: 50 }, CALL));
    const second = await settled(sent);
    expect(second).toMatchObject({ status: 'running', awaiting_input: true, turns_done: 2, output: 'FAKE-OK: second live message', resume_token: first.resume_token });
    const turns = requestsOf(first.resume_token);
    expect(turns).toHaveLength(2);
    expect(conversation(turns[1]!)).toContain('first live message');
    expect(turns[1]!.lastUserText).toBe('second live message');

    const closed = structured(await server.call('close', { run_id: first.run_id }, CALL));
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
  });

  it('tool permissions: allowed_tools lets bash(touch *) run and denies rm, which the run reports', async () => {
    const record = await spawn({ task: 'PERMISSION-PROBE', allowed_tools: ['bash(touch *)'], runtime: 'opencode-permissions' });
    expect(outcome(record)).toEqual({ status: 'succeeded', error: null });
    expect(record).toMatchObject({ status: 'succeeded', output: 'FAKE-OK: permissions probed' });
    expect(record.warnings).toEqual(['opencode denied 1 tool call: bash (rm -f keep.txt); allow them with allowed_tools (or the runtime\'s permissions)']);
    expect(fs.existsSync(path.join(record.workspace, 'allowed.txt'))).toBe(true);
    const [first, second, third] = requestsOf(record.resume_token);
    // Only bash is offered; the denial and the success come back to the model as tool results.
    expect(first!.toolNames).toEqual(['bash']);
    expect(second!.toolResults[0]!.content).toMatch(/specified a rule which prevents you from using this specific tool call/);
    expect(third!.toolResults[0]!.content).toBe('(no output)');
  });

  it('tool permissions: a request may not widen the runtime\'s allowed_tools; refused before anything runs', async () => {
    const before = model.requests.length;
    const result = await server.call('spawn', { task: 'x', runtime: 'opencode-narrow', allowed_tools: ['read', 'bash'] });
    expect(text(result)).toMatch(/\[invalid_input\] allowed_tools: "bash" is outside the permissions of runtime "opencode-narrow" \(allowed: read, bash\(touch \*\)\)/);
    expect(model.requests.length).toBe(before);
  });

  it('agent_mcp: the child calls fracta_spawn, and the grandchild run is its child with the result returned to the model', async () => {
    const call = JSON.stringify({ task: 'grandchild work', runtime: 'echo-agent', wait_s: 30 });
    const parent = await spawn({ task: `[tool:fracta_spawn ${call}]`, agent_mcp: true, runtime: 'opencode-mcp' });
    expect(outcome(parent)).toEqual({ status: 'succeeded', error: null });
    expect(parent).toMatchObject({ status: 'succeeded', depth: 1 });
    const [asked, answered] = requestsOf(parent.resume_token);
    expect(asked!.toolNames).toEqual(expect.arrayContaining(['fracta_spawn', 'fracta_wait', 'bash']));
    const toolResult = answered!.toolResults[0]!;
    expect(toolResult.content).toContain('echo: grandchild work');
    expect(parent.output).toMatch(/^FAKE-OK: tool result: /);

    const runs = structured(await server.call('runs', {})).runs;
    const child = runs.find((run: any) => run.runtime === 'echo-agent' && run.parent_run === parent.run_id);
    expect(child).toMatchObject({ status: 'succeeded', root_run: parent.run_id, depth: 2, output: 'echo: grandchild work' });
    expect(toolResult.content).toContain(child.run_id);
    const mcpConfig = JSON.parse(fs.readFileSync(path.join(parent.workspace, '.fracta/opencode.json'), 'utf8'));
    expect(mcpConfig.mcp.fracta).toMatchObject({ type: 'local', environment: { FRACTA_PARENT_RUN: parent.run_id, FRACTA_DEPTH: '1' } });
  });

  it("ask_parent: the question waits in the parent's wait, and its answer is the tool result opencode's model receives", async () => {
    const { asked, ended } = await askAndAnswer(server, { task: '[tool:fracta_ask_parent {"question":"Which port?"}]', runtime: 'opencode-ask' }, 'port 8443, please');
    expect(asked).toMatchObject({ kind: 'question', question: 'Which port?' });
    expect(ended.status).toBe('succeeded');
    const [, answered] = requestsOf(ended.resume_token);
    expect(answered!.toolResults[0]!.content).toContain('port 8443, please');
  });

  it('a session fracta cannot place is refused before anything starts, never started afresh', async () => {
    const result = await server.call('spawn', { task: 'continue', resume_token: 'ses_notfromanyrun00000000000' });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/\[session_not_found\] runtime "opencode" resumes a session only from the folder it started in/);
  });

  describe('errors come back as clear fracta errors within seconds of the failure, without opencode\'s minute of retries', () => {
    // One request each: no retry (for the unreachable API, the plugin's "gave up after 0 retries" says it).
    for (const [name, args, code, message, requests] of [
      ['401', { task: 'auth [http:401]', runtime: 'opencode-e401' }, 'auth_failed', /^Incorrect API key provided \(fake error 401\) \(give the provider an API key/, 1],
      ['unknown model (404)', { task: 'model please', model: 'fake/does-not-exist', runtime: 'opencode-e404' }, 'unknown_model', /^HTTP 404: The model `does-not-exist` does not exist/, 1],
      ['400', { task: 'bad [http:400]', runtime: 'opencode-e400' }, 'api_error', /^fake error 400$/, 1],
      ['500', { task: 'boom [http:500]', runtime: 'opencode-e500' }, 'api_error', /\(fake error 500\) \(gave up after 0 retries, the runtime's max_retries\)$/, 1],
      ['unreachable API', { task: 'hello nobody', runtime: 'opencode-offline' }, 'api_unreachable', /^Cannot connect to API: .*gave up after 0 retries.*check the provider's baseURL/, 0],
    ] as const) {
      it(name, async () => {
        const record = await spawn(args);
        expect(record).toMatchObject({ status: 'failed', error: { code } });
        expect(record.error.message).toMatch(message);
        expect(requestsOf(record.resume_token)).toHaveLength(requests);
        // The error seconds after the failed call (opencode's start-up on a busy machine is not counted).
        expect(Date.parse(record.ended_at) - failedAt(record)).toBeLessThan(FAILURE_TO_ERROR_MS);
      });
    }
  });
});
