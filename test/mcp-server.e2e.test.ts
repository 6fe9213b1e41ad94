import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, readPidfile, runCleanups, startServer, structured, text, until } from './helpers/harness.js';

afterEach(runCleanups);

function pidfile(dir: string, name = 'pids.json'): string {
  return path.join(dir, name);
}

describe('tools', () => {
  it('lists the tools with input and output schemas', async () => {
    const server = await startServer();
    const { tools } = await server.client.listTools();
    // ask_parent and approval_prompt ask a run's chain: only the fracta an agent was given lists them.
    expect(tools.map((tool) => tool.name).sort()).toEqual(['answer', 'board', 'cancel', 'clean', 'close', 'runs', 'runtimes', 'send', 'spawn', 'status', 'wait']);
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema?.type).toBe('object');
      expect(tool.description?.length).toBeGreaterThan(20);
    }
    // The first answer came from the list made at build time; once the core has loaded it makes the list itself: the same.
    await server.call('runtimes', {});
    expect((await server.client.listTools()).tools).toEqual(tools);
    const spawn = tools.find((tool) => tool.name === 'spawn')!;
    expect(spawn.inputSchema.required).toEqual(['task']);
    expect(Object.keys(spawn.inputSchema.properties ?? {}).sort()).toEqual(
      ['agent_mcp', 'allowed_tools', 'backend', 'base_branch', 'branch', 'budget', 'cleanup', 'contract', 'model', 'repo', 'resume_run', 'resume_token', 'runtime', 'stream', 'task', 'tier', 'timeout_s', 'wait_s', 'workspace'].sort(),
    );
    expect(Object.keys(spawn.outputSchema?.properties ?? {})).toEqual(
      expect.arrayContaining(['run_id', 'status', 'runtime', 'host', 'model', 'tier', 'output', 'error', 'resume_token', 'exit_code', 'workspace', 'log_uri', 'started_at', 'ended_at', 'warnings']),
    );
  });

  it('runtimes reports host, tier, capabilities, models and whether the command is found', async () => {
    const server = await startServer();
    const result = structured(await server.call('runtimes', {}));
    expect(result.default_runtime).toBe('echo-agent');
    const byName = Object.fromEntries(result.runtimes.map((r: any) => [r.name, r]));
    expect(byName['echo-agent']).toMatchObject({ host: 'command', tier: 'Batch', model: 'small', model_tiers: { heavy: 'big', light: 'tiny' } });
    expect(byName['echo-agent'].command_path).toMatch(/echo-agent\.mjs$/);
    expect(byName['echo-json'].capabilities).toEqual({ stream: false, resumeToken: true, agentMcp: false, toolPermissions: false });
    expect(byName['missing-cli'].command_path).toBeNull();
  });
});

describe('spawn', () => {
  it('returns succeeded with the parsed output of a quick run', async () => {
    const server = await startServer();
    const result = await server.call('spawn', { task: 'hello from the test' });
    expect(result.isError).toBeFalsy();
    const record = structured(result);
    expect(record).toMatchObject({ status: 'succeeded', runtime: 'echo-agent', host: 'command', tier: 'Batch', model: 'small', exit_code: 0 });
    expect(record.output).toBe('echo: hello from the test');
    expect(record.log_uri).toBe(`fracta://runs/${record.run_id}/log`);
    expect(text(result)).toContain('echo: hello from the test');
    expect(fs.existsSync(record.workspace)).toBe(true);
    const onDisk = JSON.parse(fs.readFileSync(path.join(server.sandbox.home, 'runs', record.run_id, 'run.json'), 'utf8'));
    expect(onDisk.status).toBe('succeeded');
    expect(onDisk.argv).toEqual([expect.stringMatching(/echo-agent\.mjs$/), '--model', 'small', '--', 'hello from the test']);
  });

  it('parses a JSON result: resume token, cost, usage and turns, and resumes with the token', async () => {
    const server = await startServer();
    const first = structured(await server.call('spawn', { task: 'first', runtime: 'echo-json' }));
    expect(first).toMatchObject({ status: 'succeeded', output: 'echo: first', resume_token: 'sess-0001', cost_usd: 0.0042, num_turns: 1 });
    expect(first.usage).toEqual({ input_tokens: 12, output_tokens: 3 });
    const second = structured(await server.call('spawn', { task: 'second', runtime: 'echo-json', resume_token: 'sess-777' }));
    expect(second.resume_token).toBe('sess-777');
    expect(second.argv).toEqual(expect.arrayContaining(['--resume', 'sess-777']));
  });

  it('resolves the model from the tier, and an explicit model wins', async () => {
    const server = await startServer();
    expect(structured(await server.call('spawn', { task: 'x', tier: 'heavy' })).model).toBe('big');
    expect(structured(await server.call('spawn', { task: 'x', tier: 'heavy', model: 'chosen' })).model).toBe('chosen');
    const fallback = structured(await server.call('spawn', { task: 'x', tier: 'medium' }));
    expect(fallback.model).toBe('small');
    expect(fallback.warnings.join(' ')).toMatch(/no model for tier "medium"/);
  });

  it('a run longer than wait_s comes back running, and wait returns its result', async () => {
    const server = await startServer();
    const started = structured(await server.call('spawn', { task: '@sleep=2 slow one', wait_s: 0.2 }));
    expect(started.status).toBe('running');
    expect(started.output).toBeNull();
    const progress: string[] = [];
    const waited = await server.client.callTool({ name: 'wait', arguments: { run_id: started.run_id, timeout_s: 30 } }, undefined, {
      onprogress: (note) => progress.push(note.message ?? ''),
    });
    const record = structured(waited as any);
    expect(record.status).toBe('succeeded');
    expect(record.output).toBe('echo: @sleep=2 slow one');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toContain(started.run_id);
  });

  it('wait gives up after timeout_s and says the run is still running', async () => {
    const server = await startServer();
    const started = structured(await server.call('spawn', { task: '@sleep=30', wait_s: 0 }));
    const waited = structured(await server.call('wait', { run_id: started.run_id, timeout_s: 0.3 }));
    expect(waited.status).toBe('running');
    await server.call('cancel', { run_id: started.run_id });
  });

  it('cancel kills the child and its grandchild', async () => {
    const server = await startServer();
    const file = pidfile(server.sandbox.dir);
    const started = structured(await server.call('spawn', { task: `@pidfile=${file} @grandchild @sleep=60`, wait_s: 0 }));
    const pids = await readPidfile(file);
    expect(alive(pids.pid)).toBe(true);
    expect(alive(pids.grandchild!)).toBe(true);
    const cancelled = await server.call('cancel', { run_id: started.run_id });
    expect(cancelled.isError).toBeFalsy();
    expect(structured(cancelled)).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    expect(alive(pids.pid)).toBe(false);
    expect(alive(pids.grandchild!)).toBe(false);
    const status = structured(await server.call('status', { run_id: started.run_id }));
    expect(status.status).toBe('cancelled');
  });

  it('a child that ignores SIGTERM is killed after the grace period', async () => {
    const server = await startServer();
    const file = pidfile(server.sandbox.dir);
    const started = structured(await server.call('spawn', { task: `@pidfile=${file} @ignore-term @sleep=60`, wait_s: 0 }));
    const pids = await readPidfile(file);
    const record = structured(await server.call('cancel', { run_id: started.run_id }));
    expect(record.status).toBe('cancelled');
    expect(alive(pids.pid)).toBe(false);
  });

  it('a timeout kills the run and records timed_out', async () => {
    const server = await startServer();
    const file = pidfile(server.sandbox.dir);
    const result = await server.call('spawn', { task: `@pidfile=${file} @grandchild @sleep=60`, timeout_s: 1, wait_s: 20 });
    const record = structured(result);
    expect(result.isError).toBe(true);
    expect(record).toMatchObject({ status: 'timed_out', error: { code: 'timed_out' } });
    const pids = await readPidfile(file);
    expect(alive(pids.pid)).toBe(false);
    expect(alive(pids.grandchild!)).toBe(false);
  });

  it('a client-side request timeout does not kill the run', async () => {
    const server = await startServer();
    await expect(
      server.call('spawn', { task: '@sleep=1.5 outlives the request', wait_s: 20 }, { timeout: 300 }),
    ).rejects.toThrow(/timed out/i);
    const runs = structured(await server.call('runs', {}));
    const runId = runs.runs[0].run_id;
    const record = structured(await server.call('wait', { run_id: runId, timeout_s: 20 }));
    expect(record.status).toBe('succeeded');
    expect(record.output).toBe('echo: @sleep=1.5 outlives the request');
  });

  it('closing the client kills running children and records why', async () => {
    const server = await startServer();
    const file = pidfile(server.sandbox.dir);
    const started = structured(await server.call('spawn', { task: `@pidfile=${file} @grandchild @sleep=60`, wait_s: 0 }));
    const pids = await readPidfile(file);
    const serverPid = server.transport.pid!;
    await server.client.close();
    await until(() => !alive(serverPid), 'the server to exit');
    expect(alive(pids.pid)).toBe(false);
    expect(alive(pids.grandchild!)).toBe(false);
    const record = JSON.parse(fs.readFileSync(path.join(server.sandbox.home, 'runs', started.run_id, 'run.json'), 'utf8'));
    expect(record).toMatchObject({ status: 'interrupted', error: { code: 'server_stopped' } });
  });

  it('SIGTERM to the server kills running children', async () => {
    const server = await startServer();
    const file = pidfile(server.sandbox.dir);
    await server.call('spawn', { task: `@pidfile=${file} @sleep=60`, wait_s: 0 });
    const pids = await readPidfile(file);
    process.kill(server.transport.pid!, 'SIGTERM');
    await until(() => !alive(pids.pid), 'the child to be killed');
    await until(() => !alive(server.transport.pid!), 'the server to exit');
  });
});

describe('capability refusals leave no trace', () => {
  for (const [field, value, capability] of [
    ['resume_token', 'sess-1', 'resumeToken'],
    ['stream', true, 'stream'],
    ['agent_mcp', true, 'agentMcp'],
  ] as const) {
    it(`${field} on a host without ${capability}`, async () => {
      const server = await startServer();
      const result = await server.call('spawn', { task: 'x', runtime: 'echo-agent', [field]: value });
      expect(result.isError).toBe(true);
      expect(text(result)).toContain('[capability_missing]');
      expect(text(result)).toContain('runtime "echo-agent"');
      expect(text(result)).toContain('Batch tier');
      expect(text(result)).toContain(capability);
      expect((result._meta as any)['fracta/error']).toMatchObject({ code: 'capability_missing', field });
      expect(fs.existsSync(path.join(server.sandbox.home, 'runs'))).toBe(false);
      expect(fs.existsSync(path.join(server.sandbox.home, 'workspaces'))).toBe(false);
      expect(structured(await server.call('runs', {})).runs).toEqual([]);
    });
  }

  it('allowed_tools on a host without tool permissions runs with a warning', async () => {
    const server = await startServer();
    const record = structured(await server.call('spawn', { task: 'x', allowed_tools: ['Bash'] }));
    expect(record.status).toBe('succeeded');
    expect(record.warnings.join(' ')).toMatch(/allowed_tools was not applied/);
  });
});

describe('bad input gets an isError result naming the field, and the server keeps serving', () => {
  it('refuses bad requests one after another', async () => {
    const server = await startServer();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ task: 'x', runtime: 'nope' }, /\[unknown_runtime\].*"nope".*echo-agent, echo-stdin, echo-json/],
      [{ task: 'x', tier: 'huge' }, /\[unknown_tier\] spawn\.tier: unknown tier \(use heavy, medium, light\)/],
      [{ task: '   ' }, /\[invalid_input\] spawn\.task: must not be empty/],
      [{}, /\[invalid_input\] spawn\.task: is required/],
      [{ task: 'x', timeout_s: -5 }, /\[invalid_input\] spawn\.timeout_s: /],
      [{ task: 'x', wait_s: 5000 }, /spawn\.wait_s: must be from 0 to 3600 seconds/],
      [{ task: 'x', bogus: 1 }, /spawn\.bogus: unknown field \(use task, runtime/],
      [{ task: 'x', runtime: 'missing-cli' }, /\[command_not_found\] runtime "missing-cli" needs the `my-agent-that-is-not-installed` command on PATH/],
    ];
    for (const [args, expected] of cases) {
      const result = await server.call('spawn', args);
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(text(result)).toMatch(expected);
    }
    expect(fs.existsSync(path.join(server.sandbox.home, 'runs'))).toBe(false);
    expect(structured(await server.call('spawn', { task: 'still serving' })).status).toBe('succeeded');
  });

  it('status and wait of an unknown run say so', async () => {
    const server = await startServer();
    const result = await server.call('status', { run_id: '../../etc/passwd' });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/\[run_not_found\]/);
    const missing = await server.call('wait', { run_id: '20260101-000000-000abcde' });
    expect(text(missing)).toMatch(/\[run_not_found\] no run "20260101-000000-000abcde"/);
  });

  it('a CLI that exits non-zero fails with the end of its stderr', async () => {
    const server = await startServer();
    const result = await server.call('spawn', { task: '@exit=3' });
    expect(result.isError).toBe(true);
    const record = structured(result);
    expect(record).toMatchObject({ status: 'failed', exit_code: 3, error: { code: 'exit_nonzero' } });
    expect(record.error.message).toMatch(/exited with code 3/);
    expect(record.error.message).toMatch(/fatal: exit 3 requested/);
  });

  it('output the host cannot parse fails with output_unparsable', async () => {
    const server = await startServer();
    const result = await server.call('spawn', { task: '@garbage', runtime: 'echo-json' });
    expect(result.isError).toBe(true);
    expect(structured(result).error).toMatchObject({ code: 'output_unparsable' });
    expect(structured(result).error.message).toMatch(/this is not json at all/);
  });

  it('an agent that reports an error fails with its own message', async () => {
    const server = await startServer();
    const record = structured(await server.call('spawn', { task: '@error it broke', runtime: 'echo-json' }));
    expect(record).toMatchObject({ status: 'failed', error: { code: 'agent_error', message: 'echo: @error it broke' } });
  });

  it("a 12 MB prompt (over the 10 MiB an SDK stdio transport allows) arrives intact on stdin", async () => {
    const server = await startServer();
    const prompt = `BIG ${"abcdefghij".repeat(1_200_000)} END`;
    const digest = createHash('sha256').update(prompt).digest('hex');
    const record = structured(await server.call('spawn', { task: prompt, runtime: 'echo-stdin' }));
    expect(record.status).toBe('succeeded');
    expect(record.output).toBe(`received ${prompt.length} bytes sha256=${digest}`);
    expect(record.task_preview.length).toBeLessThanOrEqual(200);
    expect(record.argv.join(' ').length).toBeLessThan(1000);
  });

  it('a 5 MB prompt to a runtime that passes it as an argument is refused before anything starts', async () => {
    const server = await startServer();
    const result = await server.call('spawn', { task: 'x'.repeat(5_000_000), runtime: 'echo-agent' });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/\[prompt_too_long\].*prompt_via: stdin/);
    expect(fs.existsSync(path.join(server.sandbox.home, 'runs'))).toBe(false);
  });

  it('a prompt "--version" reaches the CLI as a prompt', async () => {
    const server = await startServer();
    expect(structured(await server.call('spawn', { task: '--version' })).output).toBe('echo: --version');
    expect(structured(await server.call('spawn', { task: '--version', runtime: 'echo-stdin' })).output).toBe('echo: --version');
  });

  it('a prompt with $(touch ...) is not run by any shell', async () => {
    const server = await startServer();
    const marker = path.join(os.tmpdir(), `fracta-shell-${process.pid}-${Date.now()}`);
    const task = `$(touch ${marker}) \`touch ${marker}\`; touch ${marker}`;
    const record = structured(await server.call('spawn', { task }));
    expect(record.output).toBe(`echo: ${task}`);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('a missing ${VAR} fails that spawn naming the variable, and values are never shown', async () => {
    const server = await startServer();
    const result = await server.call('spawn', { task: 'x', runtime: 'secretive' });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/\[env_missing\] runtime "secretive" needs the environment variable FRACTA_TEST_SECRET/);
  });

  it('a secret injected from ${VAR} is masked in the result and the record', async () => {
    const server = await startServer({ env: { FRACTA_TEST_SECRET: 'sk-very-secret-1234' } });
    const result = await server.call('spawn', { task: '@env=AGENT_TOKEN', runtime: 'secretive' });
    const record = structured(result);
    expect(record.output).toBe('env AGENT_TOKEN=***');
    const onDisk = fs.readFileSync(path.join(server.sandbox.home, 'runs', record.run_id, 'run.json'), 'utf8');
    expect(onDisk).not.toContain('sk-very-secret-1234');
    expect(JSON.stringify(result)).not.toContain('sk-very-secret-1234');
  });
});

describe('logs and records', () => {
  it("each run's log is a resource, paged when it is large, and the output in the result is bounded", async () => {
    const server = await startServer();
    const record = structured(await server.call('spawn', { task: '@bytes=5000000' }));
    expect(record.status).toBe('succeeded');
    expect(record.output_truncated).toBe(true);
    expect(record.output.length).toBeLessThan(20_500);
    expect(record.output).toContain(record.log_uri);
    expect(record.output.endsWith('END-OF-BYTES')).toBe(true);
    expect(record.output_bytes).toBeGreaterThan(5_000_000);

    const templates = await server.client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toContain('fracta://runs/{run_id}/log');
    const listed = await server.client.listResources();
    expect(listed.resources.map((r) => r.uri)).toContain(record.log_uri);

    const first = await server.client.readResource({ uri: record.log_uri });
    const page = first.contents[0] as any;
    // Pages of 1 MiB: even a page of control bytes, each escaped in six, stays under the SDK client's 10 MiB.
    expect(page.text.length).toBe(1024 * 1024);
    expect(page._meta['fracta/next']).toBe(`${record.log_uri}?offset=${1024 * 1024}`);
    let total = page.text.length;
    let last = page;
    while (last._meta?.['fracta/next']) {
      last = (await server.client.readResource({ uri: last._meta['fracta/next'] })).contents[0] as any;
      total += last.text.length;
    }
    expect(total).toBe(record.output_bytes);
    expect(last.text.endsWith('END-OF-BYTES\n')).toBe(true);
    // A resource that does not exist is MCP's "resource not found" (-32002), not an internal error.
    await expect(server.client.readResource({ uri: 'test://static-text' })).rejects.toMatchObject({ code: -32002, message: expect.stringContaining('Resource not found: test://static-text') });
    await expect(server.client.readResource({ uri: 'fracta://runs/r-nope-000000/log' })).rejects.toMatchObject({ code: -32002 });
  });

  it('runs lists newest first and filters by status', async () => {
    const server = await startServer();
    const ok = structured(await server.call('spawn', { task: 'one' }));
    const bad = structured(await server.call('spawn', { task: '@exit=2' }));
    const all = structured(await server.call('runs', {})).runs.map((r: any) => r.run_id);
    expect(all).toEqual([bad.run_id, ok.run_id]);
    const failed = structured(await server.call('runs', { status: 'failed' })).runs.map((r: any) => r.run_id);
    expect(failed).toEqual([bad.run_id]);
    expect(structured(await server.call('runs', { limit: 1 })).runs).toHaveLength(1);
  });

  it('the cleanup policy removes the workspace when asked', async () => {
    const server = await startServer();
    const kept = structured(await server.call('spawn', { task: 'keep me' }));
    expect(kept.workspace_removed).toBe(false);
    expect(fs.existsSync(path.join(kept.workspace, '.fracta', 'task.md'))).toBe(true);
    const removed = structured(await server.call('spawn', { task: 'clean me', cleanup: 'on_success' }));
    expect(removed.workspace_removed).toBe(true);
    expect(fs.existsSync(removed.workspace)).toBe(false);
    const failed = structured(await server.call('spawn', { task: '@exit=1', cleanup: 'on_success' }));
    expect(failed.workspace_removed).toBe(false);
    expect(fs.existsSync(failed.workspace)).toBe(true);
  });

  it('the agent runs in its workspace, with the task file and contract there', async () => {
    const server = await startServer();
    const file = path.join(server.sandbox.dir, 'pids.json');
    const record = structured(await server.call('spawn', { task: `@pidfile=${file} do it`, contract: 'tests pass' }));
    const pids = await readPidfile(file);
    expect(fs.realpathSync(pids.cwd)).toBe(fs.realpathSync(record.workspace));
    expect(fs.readFileSync(path.join(record.workspace, '.fracta', 'task.md'), 'utf8')).toContain('## Contract\ntests pass');
    expect(record.output).toContain('## Contract');
  });
});
