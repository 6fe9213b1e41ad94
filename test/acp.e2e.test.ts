/**
 * The ACP host against a scripted ACP agent on the official SDK (test/fixtures/acp-agent.mjs), over
 * real stdio from a real fracta: a batch run as a session of one turn, a live session, a resume from
 * a new fracta, permissions by allow-list, by approvals and by an answer, cancel and timeout with no
 * orphan, and what real agents rarely do on cue: authentication, a crash mid-turn, a line that is not
 * ACP, a refusal.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, connectServer, onCleanup, ROOT, runCleanups, runCli, startServer, structured, until, untilDecisionNeeded, untilEnded, type RecordContent, type Server } from './helpers/harness.js';

afterEach(runCleanups);

const ACP_AGENT = path.join(ROOT, 'test/fixtures/acp-agent.mjs');

function acpRuntime(name: string, state: string, extra = '', env: Record<string, string> = {}): string {
  return `
    ${name}:
      adapter: acp
      command: ${ACP_AGENT}
      env: ${JSON.stringify({ FAKE_ACP_STATE: state, ...env })}
${extra}`;
}

/** The scripted agent's state folder of the test under way (its sessions, what it was told). */
let agentState = '';

async function startAcp(): Promise<Server> {
  const state = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fracta-acp-'));
  agentState = state;
  onCleanup(() => fs.rmSync(state, { recursive: true, force: true }));
  return startServer({
    config: `
agents:
  default_runtime: fake-acp
  kill_grace_s: 1
  agent_runtimes:
${acpRuntime('fake-acp', state)}
${acpRuntime('fake-acp-allow', state, '      permissions: { allowed_tools: [execute] }\n')}
${acpRuntime('fake-acp-deny', state, '      approvals: { default: deny }\n')}
${acpRuntime('fake-acp-auth', state, '      auth_method: fake-key\n', { FAKE_ACP_AUTH: 'required' })}
${acpRuntime('fake-acp-noauth', state, '', { FAKE_ACP_AUTH: 'required' })}
${acpRuntime('fake-acp-dropper', state, '', { FAKE_ACP_DROP_MCP: '1' })}
${acpRuntime('fake-acp-noload', state, '', { FAKE_ACP_NO_LOAD: '1' })}
`,
  });
}

function events(record: RecordContent): Array<Record<string, any>> {
  return fs.readFileSync(record.events_path, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
}

async function pidOf(file: string): Promise<number> {
  return (JSON.parse(await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8'), `pidfile ${file}`)) as { pid: number }).pid;
}

describe('acp host (scripted agent)', () => {
  it('runtimes shows an ACP runtime as Full-Agent', async () => {
    const server = await startAcp();
    const runtime = (structured(await server.call('runtimes', {})).runtimes as RecordContent[]).find((r) => r.name === 'fake-acp');
    expect(runtime).toMatchObject({ host: 'acp', tier: 'Full-Agent', capabilities: { stream: true, resumeToken: true, agentMcp: true, toolPermissions: true } });
  });

  it('batch: one turn of a session, its answer, session id, events, plan and spend; the agent exits', async () => {
    const server = await startAcp();
    const record = structured(await server.call('spawn', { task: 'hello over acp', wait_s: 30 }));
    expect(record).toMatchObject({ status: 'succeeded', host: 'acp', stream: false, awaiting_input: false, exit_code: 0 });
    expect(record.output).toBe('ACP-OK: hello over acp');
    expect(record.resume_token).toMatch(/^fake-\d+-\d+$/);
    expect(record.spent).toMatchObject({ usd: 0.01, tokens: 110 });
    const kinds = events(record).map((event) => event.type);
    expect(kinds).toEqual(expect.arrayContaining(['init', 'plan', 'text', 'usage', 'result']));
  });

  it('a live session takes each message as the next prompt on the same process, then closes', async () => {
    const server = await startAcp();
    const first = structured(await server.call('spawn', { task: 'first message', stream: true, wait_s: 30 }));
    expect(first).toMatchObject({ status: 'running', awaiting_input: true, turns_done: 1, output: 'ACP-OK: first message' });
    const second = structured(await server.call('send', { run_id: first.run_id, message: 'second message', wait_s: 30 }));
    expect(second).toMatchObject({ awaiting_input: true, turns_done: 2, pid: first.pid });
    expect(second.output).toContain('remembers: first message');
    const closed = structured(await server.call('close', { run_id: first.run_id }));
    expect(closed).toMatchObject({ status: 'succeeded', awaiting_input: false });
    expect(closed.spent).toMatchObject({ usd: 0.02, tokens: 220 });
  });

  it('resumes a session in a new fracta process with session/load', async () => {
    const server = await startAcp();
    const first = structured(await server.call('spawn', { task: 'remember the word pelican', wait_s: 30 }));
    expect(first.status).toBe('succeeded');
    const next = await connectServer(server.sandbox);
    const resumed = structured(await next.call('spawn', { task: 'which word?', resume_run: first.run_id, wait_s: 30 }));
    expect(resumed).toMatchObject({ status: 'succeeded', resume_token: first.resume_token, workspace: first.workspace });
    expect(resumed.output).toContain('remembers: remember the word pelican');
  });

  it('gives its MCP servers to the agent in session/new: fracta\'s own with agent_mcp, whose tools work', async () => {
    const server = await startAcp();
    const record = structured(await server.call('spawn', { task: 'which servers?', agent_mcp: true, wait_s: 30 }));
    expect(record).toMatchObject({ status: 'succeeded' });
    expect(record.output).toContain('servers: fracta');
    const called = structured(await server.call('spawn', { task: '@call-runtimes', agent_mcp: true, wait_s: 30 }));
    expect(called.output).toContain('ACP-OK: runtimes said "fake-acp"');
  });

  it('an agent that drops the MCP servers it is given: a spawn with agent_mcp fails with capability_missing, naming the agent', async () => {
    const server = await startAcp();
    const record = structured(await server.call('spawn', { runtime: 'fake-acp-dropper', task: 'which servers?', agent_mcp: true, wait_s: 30 }));
    expect(record.status).toBe('failed');
    expect(record.error.code).toBe('capability_missing');
    expect(record.error.message).toContain('the agent of runtime "fake-acp-dropper"');
    expect(record.error.message).toContain('did not connect to the fracta MCP server it was given');
    // Without agent_mcp, nothing is missing.
    const plain = structured(await server.call('spawn', { runtime: 'fake-acp-dropper', task: 'hello', wait_s: 30 }));
    expect(plain.status).toBe('succeeded');
  });

  it('a permission the allow-list gives is allowed without asking; approvals that deny deny it', async () => {
    const server = await startAcp();
    const allowed = structured(await server.call('spawn', { runtime: 'fake-acp-allow', task: 'use @tool', wait_s: 30 }));
    expect(allowed.output).toBe('ACP-OK: the tool said hi');
    expect(allowed.requests).toEqual([]);
    const denied = structured(await server.call('spawn', { runtime: 'fake-acp-deny', task: 'use @tool', wait_s: 30 }));
    expect(denied.output).toBe('ACP-OK: the tool was denied');
    expect(denied.requests).toMatchObject([{ kind: 'permission', tool: 'run: echo hi', decision: 'deny', decided_by: 'policy default deny' }]);
    const results = events(denied).filter((event) => event.type === 'tool_result');
    expect(results).toMatchObject([{ output: 'denied', is_error: true }]);
  });

  it('a permission nobody rules on waits for an answer, and the answer reaches the agent', async () => {
    const server = await startAcp();
    const started = structured(await server.call('spawn', { task: 'use @tool', wait_s: 0 }));
    const asking = await untilDecisionNeeded(server, started.run_id);
    expect(asking.needs_input).toBe(true);
    const request = asking.pending_requests[0];
    expect(request).toMatchObject({ kind: 'permission', tool: 'run: echo hi', chain: [started.run_id] });
    await server.call('answer', { run_id: started.run_id, request_id: request.request_id, decision: 'allow' });
    const ended = await untilEnded(server, started.run_id);
    expect(ended).toMatchObject({ status: 'succeeded', output: 'ACP-OK: the tool said hi' });
    expect(ended.requests).toMatchObject([{ decision: 'allow', decided_by: 'user' }]);
  });

  it('cancel mid-turn: session/cancel, then the process tree; nothing is left running', async () => {
    const server = await startAcp();
    const pidfile = path.join(server.sandbox.dir, 'acp.pid');
    const started = structured(await server.call('spawn', { task: `@hang @pidfile=${pidfile}`, stream: true, wait_s: 0 }));
    const pid = await pidOf(pidfile);
    const cancelled = structured(await server.call('cancel', { run_id: started.run_id }));
    expect(cancelled.status).toBe('cancelled');
    expect(alive(pid)).toBe(false);
    // session/cancel reached the agent before its process tree was stopped.
    expect(fs.existsSync(path.join(agentState, `cancelled-${cancelled.resume_token}`))).toBe(true);
  });

  it('a turn that never ends is timed out, its process killed', async () => {
    const server = await startAcp();
    const pidfile = path.join(server.sandbox.dir, 'acp.pid');
    const record = structured(await server.call('spawn', { task: `@hang @pidfile=${pidfile}`, timeout_s: 1.5, wait_s: 30 }));
    expect(record.status).toBe('timed_out');
    expect(alive(await pidOf(pidfile))).toBe(false);
  });

  it('authenticates with the runtime\'s auth_method; without one, says how to give it', async () => {
    const server = await startAcp();
    const refused = structured(await server.call('spawn', { runtime: 'fake-acp-noauth', task: 'hello', wait_s: 30 }));
    expect(refused.status).toBe('failed');
    expect(refused.error.code).toBe('auth_failed');
    expect(refused.error.message).toContain("set the runtime's auth_method");
    const authed = structured(await server.call('spawn', { runtime: 'fake-acp-auth', task: 'hello', wait_s: 30 }));
    expect(authed).toMatchObject({ status: 'succeeded', output: 'ACP-OK: hello' });
  });

  it('an agent that crashes mid-turn, writes what is not ACP, or refuses: each fails with its own code', async () => {
    const server = await startAcp();
    const crashed = structured(await server.call('spawn', { task: '@crash', wait_s: 30 }));
    expect(crashed).toMatchObject({ status: 'failed', exit_code: 3 });
    expect(crashed.error.code).toBe('exit_nonzero');
    const garbage = structured(await server.call('spawn', { task: '@garbage', wait_s: 30 }));
    expect(garbage.status).toBe('failed');
    expect(garbage.error.code).toBe('output_unparsable');
    expect(garbage.error.message).toContain('this is not an ACP message');
    const refused = structured(await server.call('spawn', { task: '@refuse', wait_s: 30 }));
    expect(refused.status).toBe('failed');
    expect(refused.error.code).toBe('agent_error');
  });

  it('runtimes --probe asks each ACP agent what it can and keeps it; a resume an agent cannot do is refused before anything starts', async () => {
    const server = await startAcp();
    const probed = await runCli(['runtimes', '--probe', '--json', '--config', server.sandbox.configPath], { env: server.sandbox.env });
    expect(probed.code).toBe(0);
    const byName = Object.fromEntries((JSON.parse(probed.stdout).runtimes as RecordContent[]).map((runtime) => [runtime.name, runtime.probe]));
    expect(byName['fake-acp']).toMatchObject({ error: null, advertised: { agent: 'fake-acp 1.0.0', load_session: true, auth_methods: ['fake-key'] } });
    expect(byName['fake-acp-noload'].advertised.load_session).toBe(false);
    // A runtime that is not ACP is not probed; the built-in gemini-acp's CLI is not on PATH here, or answers.
    expect(byName.claude).toBeNull();
    // The MCP tool says the same.
    const listed = (structured(await server.call('runtimes', {})).runtimes as RecordContent[]).find((runtime) => runtime.name === 'fake-acp-noload')!;
    expect(listed.probe.advertised.load_session).toBe(false);
    const first = structured(await server.call('spawn', { runtime: 'fake-acp-noload', task: 'remember', wait_s: 30 }));
    const runsBefore = fs.readdirSync(path.join(server.sandbox.home, 'runs')).length;
    const refused = await server.call('spawn', { runtime: 'fake-acp-noload', task: 'again', resume_run: first.run_id, wait_s: 30 });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain('advertises neither loading nor resuming a session');
    expect(fs.readdirSync(path.join(server.sandbox.home, 'runs')).length).toBe(runsBefore);
    const text = await runCli(['runtimes', '--config', server.sandbox.configPath], { env: server.sandbox.env });
    expect(text.stdout).toMatch(/fake-acp: fake-acp 1\.0\.0; load session yes, resume no; auth fake-key \(probed /);
  });
});
