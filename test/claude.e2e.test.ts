/**
 * MCP client → fracta mcp → the real claude 2.1.197 → a scripted Anthropic API on 127.0.0.1. Each
 * test asserts on what the model server received and what fracta returned. Every claude gets its
 * own HOME and TMPDIR inside the test's sandbox.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLAUDE, ECHO_AGENT, claudeRuntime, onCleanup, runCleanups, runCli, startServer, structured, text, type Server } from './helpers/harness.js';
import { startModelServer, type ModelServer } from './model-server/anthropic.js';

afterEach(runCleanups);

interface ClaudeSetup {
  readonly server: Server;
  readonly model: ModelServer;
}

async function startClaude(options: { idleS?: number } = {}): Promise<ClaudeSetup> {
  const model = await startModelServer();
  onCleanup(() => model.close());
  // The sandbox folder is only known once the server starts; the config names it through FRACTA_TEST_DIR.
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fracta-claude-'));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['claude-home', 'claude-tmp']) fs.mkdirSync(path.join(dir, sub));
  const config = `
agents:
  default_runtime: claude
  kill_grace_s: 1
  session_idle_timeout_s: ${options.idleS ?? 120}
  agent_runtimes:
${claudeRuntime('claude', model.url, dir)}
${claudeRuntime('claude-offline', 'http://127.0.0.1:1', dir)}
${claudeRuntime('claude-keyless', model.url, dir).replace('        ANTHROPIC_API_KEY: sk-ant-fake\n', '')}
${claudeRuntime('claude-narrow', model.url, dir, '      permissions:\n        allowed_tools: ["Read", "Bash(touch:*)"]\n')}
${claudeRuntime('claude-bypass', model.url, dir, '      permissions:\n        mode: bypassPermissions\n')}
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

function lastRequestTexts(model: ModelServer): string[] {
  const last = model.messages().at(-1)!;
  return (last.body.messages as Array<{ role: string; content: unknown }>).map((message) =>
    typeof message.content === 'string' ? message.content : JSON.stringify(message.content),
  );
}

describe('claude runtime', () => {
  it('runtimes shows claude as Full-Agent with its capabilities, models and tiers', async () => {
    const { server } = await startClaude();
    const runtimes = structured(await server.call('runtimes', {})).runtimes;
    const claude = runtimes.find((r: any) => r.name === 'claude');
    expect(claude).toMatchObject({
      host: 'claude',
      tier: 'Full-Agent',
      capabilities: { stream: true, resumeToken: true, agentMcp: true, toolPermissions: true },
      model: 'fake-sonnet',
      model_tiers: { heavy: 'fake-opus', medium: 'fake-sonnet', light: 'fake-haiku' },
      command_path: CLAUDE,
    });
  });

  it('batch: the result, session id and cost come back; the model got the prompt and the tier model', async () => {
    const { server, model } = await startClaude();
    const result = await server.call('spawn', { task: 'say hi from the fake', tier: 'heavy' });
    const record = structured(result);
    expect(result.isError).toBeFalsy();
    expect(record).toMatchObject({ status: 'succeeded', host: 'claude', tier: 'Full-Agent', model: 'fake-opus', output: 'FAKE-OK: say hi from the fake', exit_code: 0 });
    expect(record.resume_token).toMatch(/^[0-9a-f-]{36}$/);
    expect(record.cost_usd).toBeGreaterThan(0);
    expect(record.usage.output_tokens).toBeGreaterThan(0);
    const [request] = model.messages();
    expect(request!.model).toBe('fake-opus');
    expect(request!.lastUserText).toContain('say hi from the fake');
    expect(request!.headers['x-claude-code-session-id']).toBe(record.resume_token);
  });

  it('streams: progress notifications reach the client, events land on disk, a follow-up send continues the session', async () => {
    const { server, model } = await startClaude();
    const progress: string[] = [];
    const first = structured(
      (await server.client.callTool({ name: 'spawn', arguments: { task: 'first live message', stream: true, wait_s: 40 } }, undefined, {
        onprogress: (note) => progress.push(note.message ?? ''),
        timeout: 60_000,
      })) as any,
    );
    expect(first).toMatchObject({ status: 'running', stream: true, awaiting_input: true, turns_done: 1, output: 'FAKE-OK: first live message' });
    expect(progress.some((line) => line.includes('session started'))).toBe(true);
    expect(progress.some((line) => line.includes('turn done: FAKE-OK: first live message'))).toBe(true);

    const second = structured(await server.call('send', { run_id: first.run_id, message: 'second live message', wait_s: 40 }, { timeout: 60_000 }));
    expect(second).toMatchObject({ status: 'running', awaiting_input: true, turns_done: 2, output: 'FAKE-OK: second live message' });
    expect(lastRequestTexts(model).join('\n')).toContain('first live message');
    expect(model.messages().at(-1)!.lastUserText).toContain('second live message');

    const closed = structured(await server.call('close', { run_id: first.run_id }));
    expect(closed).toMatchObject({ status: 'succeeded', awaiting_input: false, exit_code: 0, output: 'FAKE-OK: second live message' });

    const events = fs
      .readFileSync(first.events_path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const types = events.map((event) => event.type);
    expect(types.filter((type) => type === 'result')).toHaveLength(2);
    expect(types).toContain('init');
    expect(types).toContain('text');
    expect(events.find((event) => event.type === 'user').text).toBe('second live message');
  });

  it('fracta send and fracta close work from a shell on a session the MCP server owns', async () => {
    const { server, model } = await startClaude();
    const started = structured(await server.call('spawn', { task: 'first from mcp', stream: true, wait_s: 40 }));
    expect(started.awaiting_input).toBe(true);
    const shell = { env: { ...server.sandbox.env }, cwd: server.sandbox.dir };
    const config = ['--config', path.join(server.sandbox.dir, 'fracta.yaml')];
    const sent = await runCli(['send', started.run_id, 'second from the shell', '--wait', '40', ...config], shell);
    expect(sent).toMatchObject({ code: 0, stdout: 'FAKE-OK: second from the shell\n' });
    expect(lastRequestTexts(model).join('\n')).toContain('first from mcp');
    const closed = await runCli(['close', started.run_id, ...config], shell);
    expect(closed).toMatchObject({ code: 0, stdout: `run ${started.run_id}: succeeded\n` });
    expect(structured(await server.call('status', { run_id: started.run_id }))).toMatchObject({ status: 'succeeded', turns_done: 2 });
  });

  it('a live session left without a message past session_idle_timeout_s is closed, keeping its last answer', async () => {
    const { server } = await startClaude({ idleS: 1 });
    const started = structured(await server.call('spawn', { task: 'then go quiet', stream: true, wait_s: 40 }));
    expect(started.awaiting_input).toBe(true);
    const ended = structured(await server.call('wait', { run_id: started.run_id, timeout_s: 30 }));
    // wait returns at once for a session awaiting input; the idle close follows within a second or two.
    const final = ended.status === 'succeeded' ? ended : await (async () => {
      for (;;) {
        const record = structured(await server.call('status', { run_id: started.run_id }));
        if (record.status !== 'running') return record;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    expect(final).toMatchObject({ status: 'succeeded', output: 'FAKE-OK: then go quiet' });
    expect(final.warnings.join(' ')).toMatch(/closed after waiting too long for a message/);
  });

  it('send to a session that is still working is refused with session_busy', async () => {
    const { server, model } = await startClaude();
    model.setReply((req) => (req.lastUserText.includes('slow') ? { type: 'text', text: 'FAKE-OK: slow', delayMs: 3_000 } : undefined));
    const started = structured(await server.call('spawn', { task: 'slow one', stream: true, wait_s: 0 }));
    const busy = await server.call('send', { run_id: started.run_id, message: 'too early' });
    expect(busy.isError).toBe(true);
    expect(text(busy)).toMatch(/\[session_(busy)\]/);
    const done = structured(await server.call('wait', { run_id: started.run_id, timeout_s: 30 }));
    expect(done).toMatchObject({ awaiting_input: true, output: 'FAKE-OK: slow' });
    await server.call('cancel', { run_id: started.run_id });
  });

  it('resumes by token and by run id in the session\'s workspace: the second request carries the first turn', async () => {
    const { server, model } = await startClaude();
    const first = structured(await server.call('spawn', { task: 'remember the word pelican' }));
    expect(first.status).toBe('succeeded');

    const byToken = structured(await server.call('spawn', { task: 'what was the word?', resume_token: first.resume_token }));
    expect(byToken).toMatchObject({ status: 'succeeded', resume_token: first.resume_token, resumed_from: first.run_id, workspace: first.workspace });
    expect(lastRequestTexts(model).join('\n')).toContain('remember the word pelican');

    const byRun = structured(await server.call('spawn', { task: 'and again?', resume_run: first.run_id }));
    expect(byRun).toMatchObject({ status: 'succeeded', resume_token: first.resume_token, workspace: first.workspace });
    const texts = lastRequestTexts(model).join('\n');
    expect(texts).toContain('remember the word pelican');
    expect(texts).toContain('what was the word?');
  });

  it('a session fracta cannot place is refused before anything starts, never started afresh', async () => {
    const { server, model } = await startClaude();
    const result = await server.call('spawn', { task: 'continue', resume_token: '11111111-2222-3333-4444-555555555555' });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/\[session_not_found\] runtime "claude" resumes a session only from the folder it started in/);
    expect(model.messages()).toHaveLength(0);
    expect(fs.existsSync(runsDir(server))).toBe(false);
  });

  it('a resumed session whose workspace was removed says so', async () => {
    const { server } = await startClaude();
    const first = structured(await server.call('spawn', { task: 'one', cleanup: 'always' }));
    expect(first.workspace_removed).toBe(true);
    const result = await server.call('spawn', { task: 'two', resume_run: first.run_id });
    expect(text(result)).toMatch(/\[session_not_found\] the workspace of run .* was removed/);
  });

  it('keeps the workspace of a resumable run under cleanup on_success, and says why', async () => {
    const { server } = await startClaude();
    const record = structured(await server.call('spawn', { task: 'keep it', cleanup: 'on_success' }));
    expect(record.workspace_removed).toBe(false);
    expect(fs.existsSync(record.workspace)).toBe(true);
    expect(record.warnings.join(' ')).toMatch(/workspace was kept: runtime "claude" resumes its session only from it/);
  });

  it('a tool call is denied by default and allowed by allowed_tools', async () => {
    const { server, model } = await startClaude();
    const denied = structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch denied.txt"}]' }));
    expect(denied.status).toBe('succeeded');
    expect(denied.warnings.join(' ')).toMatch(/claude was denied 1 tool call: Bash \(touch denied\.txt\)/);
    expect(fs.existsSync(path.join(denied.workspace, 'denied.txt'))).toBe(false);

    const allowed = structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch allowed.txt"}]', allowed_tools: ['Bash(touch:*)'] }));
    expect(allowed.status).toBe('succeeded');
    expect(allowed.warnings).toEqual([]);
    expect(fs.existsSync(path.join(allowed.workspace, 'allowed.txt'))).toBe(true);
    expect(allowed.argv).toEqual(expect.arrayContaining(['--allowedTools=Bash(touch:*)']));
    expect(model.messages().at(-1)!.toolResults).toHaveLength(1);
    expect(allowed.output).toMatch(/^FAKE-OK: tool result/);
  });

  it('agent_mcp: the child calls fracta spawn, and the grandchild run is its child with the result returned to the model', async () => {
    const { server, model } = await startClaude();
    const call = JSON.stringify({ task: 'grandchild work', runtime: 'echo-agent', wait_s: 30 });
    const result = await server.call('spawn', { task: `[tool:mcp__fracta__spawn ${call}]`, agent_mcp: true, wait_s: 50 }, { timeout: 90_000 });
    const parent = structured(result);
    expect(parent.status).toBe('succeeded');
    expect(parent.depth).toBe(1);
    const toolResult = model.messages().at(-1)!.toolResults[0]!;
    expect(toolResult.is_error).toBe(false);
    expect(toolResult.content).toContain('echo: grandchild work');
    expect(parent.output).toMatch(/^FAKE-OK: tool result: /);

    const runs = structured(await server.call('runs', {})).runs;
    const child = runs.find((run: any) => run.runtime === 'echo-agent');
    expect(child).toMatchObject({ status: 'succeeded', parent_run: parent.run_id, root_run: parent.run_id, depth: 2, output: 'echo: grandchild work' });
    expect(toolResult.content).toContain(child.run_id);
    const mcpConfig = JSON.parse(fs.readFileSync(path.join(parent.workspace, '.fracta/mcp.json'), 'utf8'));
    expect(mcpConfig.mcpServers.fracta.env).toMatchObject({ FRACTA_PARENT_RUN: parent.run_id, FRACTA_DEPTH: '1' });
  });

  describe('errors come back as clear fracta errors within seconds', () => {
    for (const [name, args, runtime, code, message] of [
      ['401', { task: '[http:401]' }, 'claude', 'auth_failed', /Failed to authenticate.*ANTHROPIC_API_KEY/],
      ['not logged in', { task: 'hi' }, 'claude-keyless', 'auth_failed', /Not logged in/],
      ['unknown model (404)', { task: 'hi', model: 'does-not-exist' }, 'claude', 'unknown_model', /issue with the selected model \(does-not-exist\)/],
      ['400', { task: '[http:400]' }, 'claude', 'api_error', /API Error: 400/],
      ['500', { task: '[http:500]' }, 'claude', 'api_error', /API Error: 500/],
      ['unreachable API', { task: 'hi' }, 'claude-offline', 'api_unreachable', /Unable to connect to API/],
    ] as const) {
      it(name, async () => {
        const { server } = await startClaude();
        const started = Date.now();
        const result = await server.call('spawn', { ...args, runtime });
        expect(Date.now() - started).toBeLessThan(15_000);
        expect(result.isError).toBe(true);
        expect(structured(result)).toMatchObject({ status: 'failed', error: { code } });
        expect(structured(result).error.message).toMatch(message);
      });
    }

    it('errors in a live session end its turn as failed', async () => {
      const { server } = await startClaude();
      const record = structured(await server.call('spawn', { task: '[http:401]', stream: true, wait_s: 30 }));
      expect(record.awaiting_input).toBe(true);
      const closed = structured(await server.call('close', { run_id: record.run_id }));
      expect(closed).toMatchObject({ status: 'failed', error: { code: 'auth_failed' } });
    });
  });

  describe('refusals leave no trace', () => {
    it('allowed_tools wider than the runtime permissions', async () => {
      const { server, model } = await startClaude();
      const result = await server.call('spawn', { task: 'x', runtime: 'claude-narrow', allowed_tools: ['Read', 'Write'] });
      expect(text(result)).toMatch(/\[invalid_input\] allowed_tools: "Write" is outside the permissions of runtime "claude-narrow"/);
      expect(model.messages()).toHaveLength(0);
      expect(fs.existsSync(runsDir(server))).toBe(false);
    });

    it.runIf(process.getuid?.() === 0)('bypassPermissions as root without IS_SANDBOX=1', async () => {
      const { server } = await startClaude();
      const result = await server.call('spawn', { task: 'x', runtime: 'claude-bypass' });
      expect(text(result)).toMatch(/\[config_invalid\] runtime "claude-bypass" uses permissions.mode bypassPermissions.*IS_SANDBOX: "1"/);
      expect(fs.existsSync(runsDir(server))).toBe(false);
    });
  });
});
