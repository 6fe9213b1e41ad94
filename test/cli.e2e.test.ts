import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI, ROOT, killQuietly, makeSandbox, onCleanup, readPidfile, runCleanups, runCli, alive, startServer, structured, until } from './helpers/harness.js';

afterEach(runCleanups);

function cli(sandbox: ReturnType<typeof makeSandbox>, args: string[], input?: string) {
  return runCli([...args, '--config', sandbox.configPath], {
    env: sandbox.env,
    cwd: sandbox.dir,
    ...(input === undefined ? {} : { input }),
  });
}

describe('fracta spawn', () => {
  it('prints the result and exits 0', async () => {
    const sandbox = makeSandbox();
    const result = await cli(sandbox, ['spawn', '--task', 'hello shell', '--runtime', 'echo-agent']);
    expect(result).toMatchObject({ code: 0, stdout: 'echo: hello shell\n' });
  });

  it('--json prints the record', async () => {
    const sandbox = makeSandbox();
    const result = await cli(sandbox, ['spawn', '--task', 'as json', '--runtime', 'echo-json', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'succeeded', output: 'echo: as json', resume_token: 'sess-0001' });
  });

  it('reads a long task from stdin with --task -', async () => {
    const sandbox = makeSandbox();
    const task = 'y'.repeat(200_000);
    const result = await cli(sandbox, ['spawn', '--task', '-', '--runtime', 'echo-stdin'], task);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^received 200000 bytes sha256=[0-9a-f]{64}\n$/);
  });

  it('exits 1 with the error when the run fails', async () => {
    const sandbox = makeSandbox();
    const result = await cli(sandbox, ['spawn', '--task', '@exit=4']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/failed: \[exit_nonzero\] .*exited with code 4/);
  });

  it('exits 1 naming the runtimes when the runtime is unknown', async () => {
    const sandbox = makeSandbox();
    const result = await cli(sandbox, ['spawn', '--task', 'x', '--runtime', 'ghost']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[unknown_runtime\] unknown runtime "ghost": the configured runtimes are .*echo-agent/);
  });

  it('exits 2 on a usage error', async () => {
    const sandbox = makeSandbox();
    const missing = await cli(sandbox, ['spawn']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/give the task with --task/);
    const unknown = await cli(sandbox, ['spawn', '--task', 'x', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--bogus'/);
  });

  it('Ctrl-C stops the agent and its tree', async () => {
    const sandbox = makeSandbox();
    const file = path.join(sandbox.dir, 'pids.json');
    const child = spawn(process.execPath, [CLI, 'spawn', '--task', `@pidfile=${file} @grandchild @sleep=60`, '--config', sandbox.configPath], {
      env: sandbox.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onCleanup(() => killQuietly(child.pid!));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const pids = await readPidfile(file);
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(alive(pids.pid)).toBe(false);
    expect(alive(pids.grandchild!)).toBe(false);
  });
});

describe('fracta runtimes, runs, status, logs, cancel', () => {
  it('runtimes lists host, tier, models and whether the command is found', async () => {
    const sandbox = makeSandbox();
    const result = await cli(sandbox, ['runtimes']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^RUNTIME\s+HOST\s+TIER\s+CAPABILITIES\s+MODEL\s+TIERS\s+COST\s+COMMAND/);
    expect(result.stdout).toMatch(/echo-agent\*\s+command\s+Batch\s+-\s+small\s+heavy=big,light=tiny\s+unknown\s+\S+echo-agent\.mjs/);
    expect(result.stdout).toMatch(/missing-cli .*my-agent-that-is-not-installed \(NOT FOUND on PATH\)/);
    const json = JSON.parse((await cli(sandbox, ['runtimes', '--json'])).stdout);
    expect(json.runtimes.find((r: any) => r.name === 'echo-json').capabilities.resumeToken).toBe(true);
  });

  it('runtimes works with no config file at all', async () => {
    const sandbox = makeSandbox();
    fs.rmSync(sandbox.configPath);
    const result = await runCli(['runtimes', '--json'], { env: sandbox.env, cwd: sandbox.dir });
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.config_source).toBe('built-in defaults');
    expect(json.runtimes.map((r: any) => r.name)).toContain('claude');
  });

  it("finds the agent CLIs fracta pins as dev dependencies in its own node_modules when PATH has none (a clone)", async () => {
    const sandbox = makeSandbox();
    fs.rmSync(sandbox.configPath);
    const env = { ...sandbox.env, PATH: '/usr/bin:/bin' };
    const json = JSON.parse((await runCli(['runtimes', '--json'], { env, cwd: sandbox.dir })).stdout);
    const paths = Object.fromEntries(json.runtimes.map((r: any) => [r.name, r.command_path]));
    expect(paths.claude).toBe(path.join(ROOT, 'node_modules/.bin/claude'));
    expect(paths.codex).toBe(path.join(ROOT, 'node_modules/.bin/codex'));
    expect(paths.gemini).toBe(path.join(ROOT, 'node_modules/.bin/gemini'));
    expect(paths.opencode).toBe(path.join(ROOT, `node_modules/opencode-${process.platform}-${process.arch}/bin/opencode`));
  });

  it('a broken config is reported with the field, and the exit code says so', async () => {
    const sandbox = makeSandbox(`agents:\n  agent_runtimes:\n    claude:\n      adapter: command\n      command: claude\n      model_tiers: { huge: x }\n`);
    const result = await cli(sandbox, ['runtimes']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('fracta.yaml: agents.agent_runtimes.claude.model_tiers.huge: unknown tier (use heavy, medium, light)');
  });

  it('runs, status and logs show what a run did', async () => {
    const sandbox = makeSandbox();
    const spawned = JSON.parse((await cli(sandbox, ['spawn', '--task', 'remember me', '--json'])).stdout);
    const runs = await cli(sandbox, ['runs']);
    expect(runs.stdout).toMatch(new RegExp(`${spawned.run_id}\\s+succeeded\\s+echo-agent`));
    const status = await cli(sandbox, ['status', spawned.run_id]);
    expect(status.stdout).toMatch(/status:\s+succeeded/);
    expect(status.stdout).toContain('echo: remember me');
    const logs = await cli(sandbox, ['logs', spawned.run_id]);
    expect(logs.stdout).toBe('echo: remember me\n');
    const missing = await cli(sandbox, ['status', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\[run_not_found\]/);
  });

  it('cancel from another process stops a run the MCP server owns', async () => {
    const sandbox = makeSandbox();
    const file = path.join(sandbox.dir, 'pids.json');
    // A CLI spawn owns the run; a second CLI process cancels it.
    const owner = spawn(process.execPath, [CLI, 'spawn', '--json', '--task', `@pidfile=${file} @grandchild @sleep=60`, '--config', sandbox.configPath], {
      env: sandbox.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onCleanup(() => killQuietly(owner.pid!));
    let out = '';
    owner.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => owner.once('exit', (code) => resolve(code)));
    const pids = await readPidfile(file);
    const runs = JSON.parse((await cli(sandbox, ['runs', '--json'])).stdout).runs;
    const runId = runs[0].run_id;
    const cancelled = await cli(sandbox, ['cancel', runId]);
    expect(cancelled.stdout).toBe(`run ${runId}: cancelled\n`);
    expect(await exited).toBe(1);
    expect(JSON.parse(out)).toMatchObject({ run_id: runId, status: 'cancelled' });
    expect(alive(pids.pid)).toBe(false);
    expect(alive(pids.grandchild!)).toBe(false);
  });

  it('--help and --version answer without a config', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['mcp', 'spawn', 'runtimes', 'runs', 'status', 'logs', 'cancel']) expect(help.stdout).toContain(command);
    const spawnHelp = await runCli(['spawn', '--help']);
    expect(spawnHelp.stdout).toContain('usage: fracta spawn --task');
    const version = await runCli(['--version']);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('fracta wait', () => {
  it('waits from another process for the first of several runs, then for all of them', async () => {
    const server = await startServer();
    const spawnNow = async (task: string) => structured(await server.call('spawn', { task, wait_s: 0 })).run_id as string;
    const slow = await spawnNow('@sleep=2 slow');
    const quick = await spawnNow('@sleep=0.2 quick');
    const first = await cli(server.sandbox, ['wait', slow, quick, '--timeout', '30']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`${quick}\\s+succeeded\\s+yes`));
    expect(first.stdout).toMatch(new RegExp(`${slow}\\s+running\\s+no`));
    expect(first.stdout).toContain('1 of 2 ready (mode any)');
    expect(first.stdout).toContain(`--- ${quick}\necho: @sleep=0.2 quick`);
    const all = await cli(server.sandbox, ['wait', slow, quick, '--all', '--json']);
    expect(all.code).toBe(0);
    const answer = JSON.parse(all.stdout);
    expect(answer.mode).toBe('all');
    expect(answer.runs.map((run: { status: string }) => run.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('exits 124 when nothing was ready in time, 1 when a ready run failed, 2 without a run id', async () => {
    const server = await startServer();
    const slow = structured(await server.call('spawn', { task: '@sleep=30 slow', wait_s: 0 })).run_id as string;
    const failed = structured(await server.call('spawn', { task: '@exit=3 failing' })).run_id as string;
    const timedOut = await cli(server.sandbox, ['wait', slow, '--timeout', '1']);
    expect(timedOut.code).toBe(124);
    expect(timedOut.stdout).toContain('0 of 1 ready');
    const bad = await cli(server.sandbox, ['wait', slow, failed]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/\[exit_nonzero\]/);
    const none = await cli(server.sandbox, ['wait']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('expected one run id or more');
    const wrongTimeout = await cli(server.sandbox, ['wait', slow, '--timeout', 'soon']);
    expect(wrongTimeout.stderr).toMatch(/wait\.timeout_s/);
    await server.call('cancel', { run_id: slow });
  });
});

describe('did you mean', () => {
  it('a mistyped subcommand, runtime or config key is answered with the name it most likely meant', async () => {
    const sandbox = makeSandbox();
    const command = await cli(sandbox, ['wiat']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('unknown command "wiat" (did you mean "wait"?)');
    const runtime = await cli(sandbox, ['spawn', '--task', 'x', '--runtime', 'echo-agnet']);
    expect(runtime.stderr).toContain('unknown runtime "echo-agnet" (did you mean "echo-agent"?)');
    const far = await cli(sandbox, ['spawn', '--task', 'x', '--runtime', 'zzzzzz']);
    expect(far.stderr).not.toContain('did you mean');
    fs.writeFileSync(sandbox.configPath, 'agents:\n  max_concurent: 3\n');
    const key = await cli(sandbox, ['runtimes']);
    expect(key.code).toBe(1);
    expect(key.stderr).toContain('agents.max_concurent: unknown key: did you mean max_concurrent?');
  });
});

describe('fracta mcp stdout', () => {
  it('carries JSON-RPC and nothing else, even when runs fail and the config is broken', async () => {
    const sandbox = makeSandbox();
    const server = spawn(process.execPath, [CLI, 'mcp', '--config', sandbox.configPath], {
      env: sandbox.env,
      cwd: sandbox.dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    onCleanup(() => killQuietly(server.pid!));
    let stdout = '';
    server.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const send = (message: object) => server.stdin!.write(`${JSON.stringify(message)}\n`);
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'spawn', arguments: { task: '@exit=2' } } });
    send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'spawn', arguments: { task: 'fine' } } });
    send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'nope', arguments: {} } });
    await until(() => stdout.split('\n').filter(Boolean).length >= 5, 'five responses');
    fs.writeFileSync(sandbox.configPath, 'agents: [broken');
    send({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'runtimes', arguments: {} } });
    await until(() => stdout.split('\n').filter(Boolean).length >= 6, 'six responses');
    const lines = stdout.split('\n').filter(Boolean);
    const messages = lines.map((line) => JSON.parse(line));
    for (const message of messages) expect(message.jsonrpc).toBe('2.0');
    // Calls are answered concurrently, so in any order.
    expect(messages.map((m) => m.id).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const byId = Object.fromEntries(messages.map((m) => [m.id, m]));
    expect(byId[3].result.isError).toBe(true);
    expect(byId[4].result.structuredContent.output).toBe('echo: fine');
    expect(byId[5].result.content[0].text).toMatch(/\[invalid_input\] unknown tool "nope"/);
    expect(byId[6].result.isError).toBe(true);
    expect(byId[6].result.content[0].text).toMatch(/\[config_invalid\] fracta\.yaml:1:/);
    server.stdin!.end();
    await until(() => !alive(server.pid!), 'the server to exit after stdin ends');
  });
});

describe('a broken fracta.yaml at start', () => {
  it('is reported as itself on stderr, not as a cluster that could not be reconciled', async () => {
    const sandbox = makeSandbox('agents:\n  max_concurrent: lots\n');
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', '--config', sandbox.configPath], env: sandbox.env, cwd: sandbox.dir, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: 'broken-config', version: '0' });
    await client.connect(transport);
    onCleanup(() => client.close());
    await until(() => stderr.includes('agents.max_concurrent'), 'the config error on stderr');
    // Recovery and the cluster sweep run after the config is read: give them their turn.
    await client.listTools();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stderr).not.toContain('reconcile');
  });
});

describe('client configuration', () => {
  async function connectWith(entry: { command: string; args: string[]; env?: Record<string, string> }, cwd: string, env: Record<string, string>) {
    const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: { ...env, ...entry.env }, cwd, stderr: 'ignore' });
    const client = new Client({ name: 'config-test', version: '0' });
    onCleanup(async () => {
      await client.close().catch(() => undefined);
      if (transport.pid) killQuietly(transport.pid);
    });
    await client.connect(transport);
    return client;
  }

  it('fracta mcp-config prints a Claude Desktop entry that starts the server from anywhere', async () => {
    const sandbox = makeSandbox();
    const printed = await cli(sandbox, ['mcp-config']);
    expect(printed.code).toBe(0);
    const entry = JSON.parse(printed.stdout).mcpServers.fracta;
    expect(entry).toEqual({ command: process.execPath, args: [CLI, 'mcp'], env: { FRACTA_CONFIG: sandbox.configPath, FRACTA_HOME: sandbox.home } });
    // What the entry needs beside it goes to stderr, so the entry alone can be redirected into a file.
    expect(printed.stderr).toContain('# merge into claude_desktop_config.json');
    const client = await connectWith(entry, '/', { PATH: process.env.PATH!, FRACTA_HOME: sandbox.home });
    const result = await client.callTool({ name: 'spawn', arguments: { task: 'via desktop config' } });
    expect((result.structuredContent as any).output).toBe('echo: via desktop config');
  });

  it('fracta mcp-config prints Claude Code and Codex forms', async () => {
    const sandbox = makeSandbox();
    const code = (await cli(sandbox, ['mcp-config', '--client', 'claude-code'])).stdout;
    expect(code).toBe(`claude mcp add --scope user fracta -e FRACTA_CONFIG=${sandbox.configPath} -e FRACTA_HOME=${sandbox.home} -- ${process.execPath} ${CLI} mcp\n`);
    const codex = (await cli(sandbox, ['mcp-config', '--client', 'codex'])).stdout;
    expect(codex).toContain('[mcp_servers.fracta]');
    expect(codex).toContain(`args = [${JSON.stringify(CLI)}, "mcp"]`);
    expect(codex).toContain('default_tools_approval_mode = "approve"');
    // The variable the secretive runtime names passes through codex by name; its value is never printed.
    expect(codex).toMatch(/env_vars = \[.*"FRACTA_TEST_SECRET"/);
  });

  it('fracta mcp-config --http prints entries that read the token from FRACTA_MCP_TOKEN, and refuses Claude Desktop', async () => {
    const sandbox = makeSandbox();
    const code = await cli(sandbox, ['mcp-config', '--client', 'claude-code', '--http', '8765', '--token-file', 'tok']);
    expect(code.stdout).toBe('claude mcp add --scope user --transport http fracta http://127.0.0.1:8765/mcp --header "Authorization: Bearer ${FRACTA_MCP_TOKEN}"\n');
    expect(code.stderr).toContain(`export FRACTA_MCP_TOKEN="$(cat ${path.join(sandbox.dir, 'tok')})"`);
    const codex = await cli(sandbox, ['mcp-config', '--client', 'codex', '--http', '[::1]:9000']);
    expect(codex.stdout).toContain('url = "http://[::1]:9000/mcp"\nbearer_token_env_var = "FRACTA_MCP_TOKEN"');
    const gemini = JSON.parse((await cli(sandbox, ['mcp-config', '--client', 'gemini', '--http', '9000'])).stdout);
    expect(gemini.mcpServers.fracta).toMatchObject({ httpUrl: 'http://127.0.0.1:9000/mcp', headers: { Authorization: 'Bearer ${FRACTA_MCP_TOKEN}' }, trust: true });
    const desktop = await cli(sandbox, ['mcp-config', '--http', '9000']);
    expect(desktop.code).toBe(2);
    expect(desktop.stderr).toContain('use the stdio entry');
    const typo = await cli(sandbox, ['mcp-config', '--client', 'codx']);
    expect(typo.stderr).toContain('unknown client "codx" (did you mean "codex"?)');
  });

  it("mcp.json's entry starts a server that lists fracta's tools", async () => {
    const sandbox = makeSandbox();
    const entry = JSON.parse(fs.readFileSync(path.join(ROOT, 'mcp.json'), 'utf8')).mcpServers.fracta;
    expect(entry.command).toBe('npx');
    expect(entry.args).toEqual(['-y', 'fracta', 'mcp']);
    // Run from the package folder, where npx resolves fracta to this checkout without the network.
    const client = await connectWith({ ...entry, env: { FRACTA_CONFIG: sandbox.configPath } }, ROOT, sandbox.env);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain('spawn');
  });
});
