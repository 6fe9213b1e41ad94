/**
 * `fracta mcp --http`: the same tools over Streamable HTTP with the MCP SDK's own client, a bearer
 * token on every request, Host and Origin checks, and several clients on one queue.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, FIXTURE_CONFIG, ROOT, alive, killQuietly, makeSandbox, onCleanup, readPidfile, runCleanups, runCli, structured, text, until, type Sandbox } from './helpers/harness.js';

afterEach(runCleanups);

interface HttpFracta {
  readonly url: string;
  readonly token: string;
  readonly child: ChildProcess;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts `fracta mcp --http 127.0.0.1:0 ...` and reads the port (and a generated token) from its stderr. */
async function startHttp(sandbox: Sandbox, extra: string[] = []): Promise<HttpFracta> {
  const child = spawn(process.execPath, [CLI, 'mcp', '--http', '127.0.0.1:0', '--config', sandbox.configPath, ...extra], {
    env: sandbox.env,
    cwd: sandbox.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onCleanup(() => killQuietly(child.pid!));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await until(() => /serving MCP at (http:\/\/\S+)/.exec(stderr)?.[1], 'the serving line');
  const fileIndex = extra.indexOf('--token-file');
  const token =
    fileIndex >= 0
      ? await until(() => (fs.existsSync(extra[fileIndex + 1]!) ? fs.readFileSync(extra[fileIndex + 1]!, 'utf8').trim() : undefined), 'the token file')
      : await until(() => /shown once[^\n]*\n(\S+)\n/.exec(stderr)?.[1], 'the token');
  return { url, token, child, stderr: () => stderr, exited };
}

async function connect(server: HttpFracta, name = 'http-test', token = server.token, given?: Client): Promise<Client & { call: (tool: string, args: Record<string, unknown>, options?: Parameters<Client['callTool']>[2]) => Promise<CallToolResult> }> {
  const client = given ?? new Client({ name, version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  onCleanup(() => client.close().catch(() => undefined));
  return Object.assign(client, { call: (tool: string, args: Record<string, unknown>, options?: Parameters<Client['callTool']>[2]) => client.callTool({ name: tool, arguments: args }, undefined, options) as Promise<CallToolResult> });
}

const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
const spawnCall = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'spawn', arguments: { task: 'must not run' } } });
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function runsOnDisk(sandbox: Sandbox): string[] {
  const dir = path.join(sandbox.home, 'runs');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

describe('fracta mcp --http', () => {
  it('a request without the token, or with a wrong one, gets 401 and nothing runs', async () => {
    const sandbox = makeSandbox();
    const server = await startHttp(sandbox);
    for (const headers of [MCP_HEADERS, { ...MCP_HEADERS, authorization: 'Bearer wrong-token-wrong-token' }, { ...MCP_HEADERS, authorization: `Basic ${server.token}` }]) {
      for (const body of [initialize, spawnCall]) {
        const response = await fetch(server.url, { method: 'POST', headers, body });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="fracta"');
        expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/bearer token/);
      }
    }
    // The SDK's client is refused the same way.
    await expect(connect(server, 'no-token', 'not-the-token-at-all')).rejects.toThrow(/missing or wrong bearer token/);
    expect(runsOnDisk(sandbox)).toEqual([]);
    // And the token is in no line fracta wrote but the one that showed it.
    expect(server.stderr().split(server.token).length).toBe(2);
  });

  it('serves the tools: a spawn and a multi-run wait with progress, as over stdio', async () => {
    const sandbox = makeSandbox();
    const server = await startHttp(sandbox);
    const client = await connect(server, 'claude-code');
    const { tools } = await client.listTools();
    expect(tools.find((tool) => tool.name === 'wait')!.description).toContain('at most 110 for this client');
    const quick = structured(await client.call('spawn', { task: 'over http' }));
    expect(quick).toMatchObject({ status: 'succeeded', output: 'echo: over http' });
    const slow = structured(await client.call('spawn', { task: '@sleep=30 slow', wait_s: 0 })).run_id;
    const soon = structured(await client.call('spawn', { task: '@sleep=2 soon', wait_s: 0 })).run_id;
    const notes: string[] = [];
    const answer = structured(await client.call('wait', { run_ids: [slow, soon], timeout_s: 30 }, { onprogress: (note) => void notes.push(note.message ?? '') }));
    expect(answer).toMatchObject({ run_id: soon, status: 'succeeded', ready: [soon], mode: 'any' });
    expect(notes.some((note) => note.includes(`run ${slow} running for`))).toBe(true);
    const all = structured(await client.call('wait', { run_ids: [quick.run_id, soon], mode: 'all', timeout_s: 5 }));
    expect([...all.ready].sort()).toEqual([quick.run_id, soon].sort());
    await client.call('cancel', { run_id: slow });
    expect(fs.readFileSync(path.join(sandbox.home, 'runs', quick.run_id, 'run.json'), 'utf8')).not.toContain(server.token);
  });

  it('two clients share the queue: with max_concurrent 1 the second client\'s run waits for the first\'s', async () => {
    const sandbox = makeSandbox(FIXTURE_CONFIG.replace('  kill_grace_s: 1\n', '  kill_grace_s: 1\n  max_concurrent: 1\n'));
    const server = await startHttp(sandbox);
    const one = await connect(server, 'client-one');
    const two = await connect(server, 'client-two');
    const first = structured(await one.call('spawn', { task: '@sleep=2 first', wait_s: 0 }));
    expect(first.status).toBe('running');
    const second = structured(await two.call('spawn', { task: 'second', wait_s: 0 }));
    expect(second.status).toBe('queued');
    // Each client sees the other's run: one queue, one set of records.
    expect(structured(await one.call('status', { run_id: second.run_id })).status).toBe('queued');
    const done = structured(await two.call('wait', { run_id: second.run_id, timeout_s: 30 }));
    expect(done.status).toBe('succeeded');
    const firstDone = structured(await one.call('status', { run_id: first.run_id }));
    expect(firstDone.status).toBe('succeeded');
    expect(Date.parse(done.started_at)).toBeGreaterThanOrEqual(Date.parse(firstDone.ended_at));
  });

  it('a run outlives the session that started it; a session closed with DELETE is gone', async () => {
    const sandbox = makeSandbox();
    const server = await startHttp(sandbox);
    const one = await connect(server, 'leaves');
    const runId = structured(await one.call('spawn', { task: '@sleep=3 outlives', wait_s: 0 })).run_id;
    const transport = one.transport as StreamableHTTPClientTransport;
    const sessionId = transport.sessionId!;
    await transport.terminateSession();
    await one.close();
    const stale = await fetch(server.url, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${server.token}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) });
    expect(stale.status).toBe(404);
    const two = await connect(server, 'stays');
    expect(structured(await two.call('wait', { run_id: runId, timeout_s: 30 })).status).toBe('succeeded');
  });

  it('refuses a Host that is not its own (DNS rebinding) and an Origin of another site, before the token is looked at', async () => {
    const sandbox = makeSandbox();
    const server = await startHttp(sandbox, ['--allow-origin', 'https://inspector.example']);
    const port = new URL(server.url).port;
    const raw = (headers: Record<string, string>, url = server.url) => fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${server.token}`, ...headers }, body: initialize });
    expect((await raw({})).status).toBe(200);
    // fetch will not let a test set Host: ask node's http directly.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: Number(port), path: '/mcp', method: 'POST', headers: { ...MCP_HEADERS, host: `evil.example:${port}`, authorization: `Bearer ${server.token}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.once('error', reject);
      req.end(initialize);
    });
    expect(status).toBe(403);
    const foreign = await raw({ origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: { message: string } }).error.message).toContain('--allow-origin https://evil.example');
    expect((await raw({ origin: 'https://evil.example', authorization: '' })).status).toBe(403);
    expect((await raw({ origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect((await raw({ origin: 'https://inspector.example' })).status).toBe(200);
    expect((await fetch(server.url.replace('/mcp', '/other'), { headers: { authorization: `Bearer ${server.token}` } })).status).toBe(404);
    expect(runsOnDisk(sandbox)).toEqual([]);
  });

  it('refuses a non-loopback host without --allow-remote, and a bad [HOST:]PORT, naming the fix', async () => {
    const sandbox = makeSandbox();
    const remote = await runCli(['mcp', '--http', '0.0.0.0:0', '--config', sandbox.configPath], { env: sandbox.env });
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/0\.0\.0\.0 is not a loopback address.*--allow-remote/);
    const bad = await runCli(['mcp', '--http', 'localhost:http', '--config', sandbox.configPath], { env: sandbox.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not [HOST:]PORT');
    const stray = await runCli(['mcp', '--token-file', 'x', '--config', sandbox.configPath], { env: sandbox.env });
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('--token-file needs --http');
  });

  it('--token-file makes a token (mode 0600) the first time and keeps it across restarts', async () => {
    const sandbox = makeSandbox();
    const file = path.join(sandbox.dir, 'secrets', 'fracta-token');
    const first = await startHttp(sandbox, ['--token-file', file]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(first.stderr()).toContain(`wrote a new bearer token to ${file}`);
    expect(first.stderr()).not.toContain(first.token);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const second = await startHttp(sandbox, ['--token-file', file]);
    expect(second.token).toBe(first.token);
    expect(structured(await (await connect(second)).call('spawn', { task: 'with a kept token' })).status).toBe('succeeded');
    fs.writeFileSync(file, 'short\n');
    const refused = await runCli(['mcp', '--http', '127.0.0.1:0', '--token-file', file, '--config', sandbox.configPath], { env: sandbox.env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/must hold one token of at least 16 characters/);
  });

  it("a child's permission request is put to the person of the session that spawned it, not to another client's", async () => {
    const state = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fracta-acp-'));
    onCleanup(() => fs.rmSync(state, { recursive: true, force: true }));
    const runtime = `    fake-acp:\n      adapter: acp\n      command: ${path.join(ROOT, 'test/fixtures/acp-agent.mjs')}\n      env: ${JSON.stringify({ FAKE_ACP_STATE: state })}\n`;
    const sandbox = makeSandbox(FIXTURE_CONFIG.replace('  agent_runtimes:\n', `  agent_runtimes:\n${runtime}`));
    const server = await startHttp(sandbox);
    const person = (who: string, asked: string[]) => {
      const client = new Client({ name: who, version: '1.0.0' }, { capabilities: { elicitation: {} } });
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        asked.push(request.params.message);
        return { action: 'accept', content: { decision: 'allow', message: `${who} allowed it` } };
      });
      return client;
    };
    const askedOne: string[] = [];
    const askedTwo: string[] = [];
    const one = await connect(server, 'person-one', server.token, person('person-one', askedOne));
    const two = await connect(server, 'person-two', server.token, person('person-two', askedTwo));
    // Both sessions have made a call, so both listen for requests.
    await two.call('runs', {});
    const started = structured(await one.call('spawn', { task: 'use @tool', runtime: 'fake-acp', wait_s: 0 }));
    // A wait comes back when the run needs input; the person's answer then lets it end.
    const ended = await until(async () => {
      const record = structured(await one.call('wait', { run_id: started.run_id, timeout_s: 5 }));
      return record.status === 'running' || record.status === 'queued' ? undefined : record;
    }, 'the run to end', 40_000);
    expect(ended).toMatchObject({ status: 'succeeded', output: 'ACP-OK: the tool said hi' });
    expect(ended.requests).toMatchObject([{ decision: 'allow', decided_by: 'human', message: 'person-one allowed it' }]);
    expect(askedOne).toHaveLength(1);
    expect(askedOne[0]).toContain(`Chain: ${started.run_id}`);
    expect(askedTwo).toEqual([]);
  });

  it('SIGTERM stops every running run and its process tree', async () => {
    const sandbox = makeSandbox();
    const server = await startHttp(sandbox);
    const client = await connect(server);
    const pidfile = path.join(sandbox.dir, 'pids.json');
    structured(await client.call('spawn', { task: `@pidfile=${pidfile} @grandchild @sleep=60`, wait_s: 0 }));
    const pids = await readPidfile(pidfile);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(alive(pids.pid)).toBe(false);
    expect(alive(pids.grandchild!)).toBe(false);
    expect(text({ content: [{ type: 'text', text: server.stderr() }] })).toContain('stopping 1 running run(s)');
  });
});
