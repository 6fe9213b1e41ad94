/**
 * Security: no value a caller gives becomes an option of the agent's CLI. The caller of spawn is a
 * model that may be prompt-injected; what it puts in model, allowed_tools, resume_token or a branch
 * must stay a value. Driven through the real server, against the real claude and gemini CLIs, which
 * talk to scripted model servers on 127.0.0.1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ECHO_AGENT, ROOT, claudeRuntime, onCleanup, runCleanups, startServer, structured, text } from './helpers/harness.js';
import { startModelServer } from './model-server/anthropic.js';
import { startGeminiServer } from './model-server/gemini.js';

afterEach(runCleanups);

const GEMINI = path.join(ROOT, 'node_modules/.bin/gemini');

function scratch(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), prefix));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['home', 'tmp', 'claude-home', 'claude-tmp', 'gemini-user/.gemini']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.writeFileSync(path.join(dir, 'gemini-user/.gemini/settings.json'), JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } } }));
  return dir;
}

async function startAgents() {
  const claudeApi = await startModelServer();
  onCleanup(() => claudeApi.close());
  const geminiApi = await startGeminiServer();
  onCleanup(() => geminiApi.close());
  const dir = scratch('fracta-argv-');
  const config = `
agents:
  default_runtime: claude
  kill_grace_s: 1
  agent_runtimes:${claudeRuntime('claude', claudeApi.url, dir)}
    gemini:
      adapter: gemini
      command: ${GEMINI}
      model: gemini-fake-flash
      max_attempts: 1
      retry_fetch_errors: false
      env:
        HOME: ${dir}/home
        TMPDIR: ${dir}/tmp
        GEMINI_CLI_HOME: ${dir}/gemini-user
        GOOGLE_GEMINI_BASE_URL: ${geminiApi.url}
        GEMINI_CLI_NO_RELAUNCH: "true"
        GEMINI_API_KEY: fake-gemini-key
    echo-arg:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["{prompt}"]
      prompt_via: arg
`;
  const server = await startServer({ config });
  return { server, claudeApi, geminiApi, dir };
}

/** What an injected caller would add to start a program of its choosing on the host. */
function hostileMcpConfig(marker: string): string {
  return JSON.stringify({ mcpServers: { pwn: { type: 'stdio', command: 'touch', args: [marker] } } });
}

function runFolders(home: string): string[] {
  try {
    return fs.readdirSync(path.join(home, 'runs'));
  } catch {
    return [];
  }
}

describe('values a caller gives stay values', () => {
  it('claude: hostile allowed_tools, model and resume_token are refused naming the field; nothing starts', { timeout: 120_000 }, async () => {
    const { server, claudeApi, dir } = await startAgents();
    const marker = path.join(dir, 'pwned');
    const attempts: Array<[string, Record<string, unknown>]> = [
      ['allowed_tools', { allowed_tools: ['Read', '--mcp-config', hostileMcpConfig(marker)] }],
      ['allowed_tools', { allowed_tools: ['--dangerously-skip-permissions'] }],
      ['model', { model: `--mcp-config=${hostileMcpConfig(marker)}` }],
      ['model', { model: 'fake-sonnet\n--print' }],
      ['resume_token', { resume_token: '--version' }],
    ];
    for (const [field, hostile] of attempts) {
      const result = await server.call('spawn', { task: 'hello', runtime: 'claude', ...hostile });
      expect(result.isError, JSON.stringify(hostile)).toBe(true);
      expect(result._meta?.['fracta/error']).toMatchObject({ code: 'invalid_input', field: expect.stringContaining(field) });
      expect(text(result)).toMatch(new RegExp(`\\[invalid_input\\] spawn\\.${field}.*(must not start with "-"|control characters)`));
    }
    expect(fs.existsSync(marker)).toBe(false);
    expect(claudeApi.messages()).toHaveLength(0);
    expect(runFolders(server.sandbox.home)).toEqual([]);
  });

  it('gemini: model "--version" and allowed_tools ["--yolo"] are refused before gemini starts', { timeout: 120_000 }, async () => {
    const { server, geminiApi } = await startAgents();
    for (const [field, hostile] of [
      ['model', { model: '--version' }],
      ['allowed_tools', { allowed_tools: ['read_file', '--yolo'] }],
      ['allowed_tools', { allowed_tools: ['--approval-mode=yolo'] }],
    ] as const) {
      const result = await server.call('spawn', { task: 'hello', runtime: 'gemini', ...hostile });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(new RegExp(`\\[invalid_input\\] spawn\\.${field}.*must not start with "-"`));
    }
    expect(geminiApi.messages()).toHaveLength(0);
    expect(runFolders(server.sandbox.home)).toEqual([]);
  });

  it('too many allowed_tools is refused: every entry would land in the record and in every answer', async () => {
    const { server } = await startAgents();
    const result = await server.call('spawn', { task: 'hello', runtime: 'claude', allowed_tools: Array.from({ length: 10_000 }, (_, i) => `Tool${i}`) });
    expect(text(result)).toMatch(/\[invalid_input\] spawn\.allowed_tools: must name at most 256 tools/);
  });

  it('claude: each allowed tool is one --allowedTools=VALUE, and the real CLI adds them up', { timeout: 120_000 }, async () => {
    const { server, claudeApi } = await startAgents();
    // The tool that must run is named first: if claude kept only the last --allowedTools, it would be denied.
    const record = structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch allowed.txt"}]', runtime: 'claude', model: 'fake-opus', allowed_tools: ['Bash(touch:*)', 'Read'] }));
    expect(record.status).toBe('succeeded');
    expect(record.argv).toEqual(expect.arrayContaining(['--model=fake-opus', '--allowedTools=Bash(touch:*)', '--allowedTools=Read']));
    expect(fs.existsSync(path.join(record.workspace, 'allowed.txt'))).toBe(true);
    expect(claudeApi.messages()[0]!.model).toBe('fake-opus');
  });

  it('gemini: the model reaches the real CLI as a value of --model=', { timeout: 120_000 }, async () => {
    const { server, geminiApi } = await startAgents();
    const record = structured(await server.call('spawn', { task: 'hello gemini', runtime: 'gemini', model: 'gemini-fake-pro', wait_s: 50 }, { timeout: 90_000 }));
    expect(record.status).toBe('succeeded');
    expect(record.argv).toContain('--model=gemini-fake-pro');
    expect(geminiApi.messages().some((request) => request.model === 'gemini-fake-pro')).toBe(true);
  });

  it('a task given as its own argument may not start with "-" unless the runtime ends the options first', async () => {
    const { server } = await startAgents();
    const result = await server.call('spawn', { task: '--version', runtime: 'echo-arg' });
    expect(text(result)).toMatch(/\[invalid_input\] task: starts with "-", and runtime "echo-arg" passes it as its own argument.*put "--" before \{prompt\}/);
    expect(runFolders(server.sandbox.home)).toEqual([]);
  });

  it('a command runtime that puts a placeholder inside sh -c is refused at load: the task would be shell code', async () => {
    const { server } = await startAgents();
    fs.writeFileSync(
      server.sandbox.configPath,
      `agents:\n  default_runtime: shelly\n  agent_runtimes:\n    shelly:\n      adapter: command\n      command: /bin/sh\n      args: ["-c", "echo {prompt}"]\n      prompt_via: arg\n`,
    );
    const result = await server.call('spawn', { task: 'x; touch /tmp/owned' });
    expect(text(result)).toMatch(/\[config_invalid\] .*agents\.agent_runtimes\.shelly\.args: a placeholder inside the code that sh runs .* lets a task run any command/);
  });
});
