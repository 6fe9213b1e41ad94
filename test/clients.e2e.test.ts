/**
 * The entries `fracta mcp-config` prints, used as printed by the real client CLIs: the entry goes
 * where its notes say, the client runs headless against a scripted model server on 127.0.0.1, the
 * model asks for fracta's spawn, and the run goes through fracta into FRACTA_HOME, its result back
 * to the model. Each client gets its own HOME; nothing of the user's machine is read or written.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLAUDE, CLI, ROOT, makeSandbox, onCleanup, runCleanups, runCli, killQuietly, until, type Sandbox } from './helpers/harness.js';
import { startModelServer } from './model-server/anthropic.js';
import { startResponsesServer } from './model-server/openai-responses.js';
import { startGeminiServer } from './model-server/gemini.js';

afterEach(runCleanups);

const CODEX = path.join(ROOT, 'node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex');
const GEMINI = path.join(ROOT, 'node_modules/.bin/gemini');
const HEAVY_MS = 180_000;

/** Splits a printed shell line into words as sh would (quotes only: the printed line has no other syntax). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | undefined;
  let inWord = false;
  for (const char of line) {
    if (quote) {
      if (char === quote) quote = undefined;
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === ' ') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function run(file: string, args: string[], options: { env: Record<string, string>; cwd: string; input?: string; timeout?: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: options.env, cwd: options.cwd, maxBuffer: 64 * 1024 * 1024, timeout: options.timeout ?? 120_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(options.input ?? '');
    onCleanup(() => {
      if (child.pid) killQuietly(child.pid);
    });
  });
}

async function printed(sandbox: Sandbox, client: string): Promise<{ entry: string; notes: string }> {
  const result = await runCli(['mcp-config', '--client', client, '--config', sandbox.configPath], { env: sandbox.env, cwd: sandbox.dir });
  expect(result.code).toBe(0);
  return { entry: result.stdout, notes: result.stderr };
}

/** The runs fracta recorded in the sandbox's FRACTA_HOME. */
function recordedRuns(sandbox: Sandbox): Array<Record<string, any>> {
  const dir = path.join(sandbox.home, 'runs');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).map((id) => JSON.parse(fs.readFileSync(path.join(dir, id, 'run.json'), 'utf8')));
}

/** A folder for one client's HOME and TMPDIR, made under /tmp (the CLIs refuse world-writable parents for some files). */
function clientDirs(sandbox: Sandbox): { home: string; tmp: string } {
  const home = path.join(sandbox.dir, 'client-home');
  const tmp = path.join(sandbox.dir, 'client-tmp');
  for (const dir of [home, tmp]) fs.mkdirSync(dir, { recursive: true });
  return { home, tmp };
}

/** A sandbox, a scripted model server and a HOME for the client; all removed after the test. */
async function setUp<M extends { close(): Promise<void> | void }>(startModel: () => Promise<M>): Promise<{ sandbox: Sandbox; model: M; home: string; tmp: string }> {
  const sandbox = makeSandbox();
  const model = await startModel();
  onCleanup(() => model.close());
  return { sandbox, model, ...clientDirs(sandbox) };
}

/** What the real claude needs to talk to the scripted server only, with its HOME in the sandbox. */
function claudeEnv(sandbox: Sandbox, home: string, tmp: string, baseUrl: string): Record<string, string> {
  return { ...sandbox.env, HOME: home, TMPDIR: tmp, ANTHROPIC_BASE_URL: baseUrl, ANTHROPIC_API_KEY: 'sk-ant-fake', DISABLE_AUTOUPDATER: '1', DISABLE_TELEMETRY: '1', DISABLE_ERROR_REPORTING: '1', CLAUDE_CODE_MAX_RETRIES: '0', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
}

const spawnArgs = (who: string) => JSON.stringify({ task: `hello via ${who}`, runtime: 'echo-agent', wait_s: 30 });

describe('the printed client entries, used by the real clients', () => {
  it('claude-code: `claude mcp add` as printed, then claude -p with the allowed tools the note names, spawns through fracta', async () => {
    const { sandbox, model, home, tmp } = await setUp(startModelServer);
    const env = claudeEnv(sandbox, home, tmp, model.url);
    const { entry, notes } = await printed(sandbox, 'claude-code');
    const words = shellWords(entry.trim());
    expect(words.slice(0, 3)).toEqual(['claude', 'mcp', 'add']);
    const added = await run(CLAUDE, words.slice(1), { env, cwd: sandbox.dir });
    expect(added.code).toBe(0);
    const allowed = /--allowedTools (\S+)/.exec(notes)![1]!;
    // From another folder: --scope user puts fracta in every project.
    const elsewhere = fs.mkdtempSync(path.join(sandbox.dir, 'project-'));
    const result = await run(CLAUDE, ['-p', '--output-format', 'json', '--allowedTools', allowed], { env, cwd: elsewhere, input: `[tool:mcp__fracta__spawn ${spawnArgs('claude')}]`, timeout: HEAVY_MS });
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout);
    expect(answer.result).toMatch(/^FAKE-OK: tool result: /);
    expect(answer.result).toContain('echo: hello via claude');
    expect(recordedRuns(sandbox)).toEqual([expect.objectContaining({ status: 'succeeded', runtime: 'echo-agent', output: 'echo: hello via claude' })]);
  }, HEAVY_MS);

  it('claude-code over HTTP: the printed `claude mcp add --transport http`, with the token exported as the note says, spawns through fracta mcp --http', async () => {
    const { sandbox, model, home, tmp } = await setUp(startModelServer);
    const tokenFile = path.join(sandbox.dir, 'token');
    const server = spawn(process.execPath, [CLI, 'mcp', '--http', '127.0.0.1:0', '--token-file', tokenFile, '--config', sandbox.configPath], { env: sandbox.env, stdio: ['ignore', 'ignore', 'pipe'] });
    onCleanup(() => killQuietly(server.pid!));
    let log = '';
    server.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const port = await until(() => /serving MCP at http:\/\/127\.0\.0\.1:(\d+)/.exec(log)?.[1], 'the serving line');
    const result = await runCli(['mcp-config', '--client', 'claude-code', '--http', port, '--token-file', tokenFile], { env: sandbox.env, cwd: sandbox.dir });
    const token = fs.readFileSync(tokenFile, 'utf8').trim();
    expect(result.stdout).not.toContain(token);
    expect(result.stderr).toContain(`export FRACTA_MCP_TOKEN="$(cat ${tokenFile})"`);
    // What the shell does with the printed line once FRACTA_MCP_TOKEN is exported.
    const words = shellWords(result.stdout.trim().replace('${FRACTA_MCP_TOKEN}', token));
    const env = claudeEnv(sandbox, home, tmp, model.url);
    expect((await run(CLAUDE, words.slice(1), { env, cwd: sandbox.dir })).code).toBe(0);
    const allowed = /--allowedTools (\S+)/.exec(result.stderr)![1]!;
    const answer = await run(CLAUDE, ['-p', '--output-format', 'json', '--allowedTools', allowed], { env, cwd: sandbox.dir, input: `[tool:mcp__fracta__spawn ${spawnArgs('claude over http')}]`, timeout: HEAVY_MS });
    expect(answer.code).toBe(0);
    expect(JSON.parse(answer.stdout).result).toContain('echo: hello via claude over http');
    expect(recordedRuns(sandbox)).toEqual([expect.objectContaining({ status: 'succeeded', output: 'echo: hello via claude over http' })]);
    expect(log).toContain('client claude-code');
  }, HEAVY_MS);

  it('codex: the printed TOML appended to config.toml lets codex exec spawn through fracta (approved, FRACTA_HOME passed on)', async () => {
    const { sandbox, model, home, tmp } = await setUp(startResponsesServer);
    const codexHome = path.join(home, '.codex');
    fs.mkdirSync(codexHome);
    const { entry } = await printed(sandbox, 'codex');
    // The user's own codex config (a provider on the scripted server), then fracta's entry appended as the note says.
    fs.writeFileSync(
      path.join(codexHome, 'config.toml'),
      [
        'model = "fake-model"',
        'model_provider = "fake"',
        '[analytics]',
        'enabled = false',
        '[model_providers.fake]',
        'name = "fake"',
        `base_url = "${model.url}/v1"`,
        'env_key = "FAKE_API_KEY"',
        'wire_api = "responses"',
        'request_max_retries = 0',
        'stream_max_retries = 0',
        '',
        entry,
      ].join('\n'),
    );
    const env = { ...sandbox.env, HOME: home, CODEX_HOME: codexHome, TMPDIR: tmp, FAKE_API_KEY: 'sk-fake' };
    const result = await run(CODEX, ['exec', '--json', '--skip-git-repo-check', '--disable', 'plugins', '--disable', 'unbounded_connection_retries', '-'], { env, cwd: sandbox.dir, input: `[tool:mcp__fracta__spawn ${spawnArgs('codex')}]`, timeout: HEAVY_MS });
    const toolResult = model.messages().at(-1)?.toolResults[0]?.content ?? '';
    expect(result.stdout).not.toContain('approval policy is never');
    expect(toolResult).toContain('echo: hello via codex');
    expect(result.code).toBe(0);
    // FRACTA_HOME reached the server codex started (env_vars): the run is in the sandbox's home, not ~/.fracta.
    expect(recordedRuns(sandbox)).toEqual([expect.objectContaining({ status: 'succeeded', output: 'echo: hello via codex' })]);
    expect(fs.existsSync(path.join(home, '.fracta'))).toBe(false);
  }, HEAVY_MS);

  it('gemini: the printed mcpServers merged into settings.json lets gemini -p spawn through fracta', async () => {
    const { sandbox, model, home, tmp } = await setUp(startGeminiServer);
    const geminiHome = path.join(home, 'gemini-user');
    fs.mkdirSync(path.join(geminiHome, '.gemini'), { recursive: true });
    const { entry } = await printed(sandbox, 'gemini');
    const settings = { security: { auth: { selectedType: 'gemini-api-key' } }, privacy: { usageStatisticsEnabled: false }, ...JSON.parse(entry) };
    fs.writeFileSync(path.join(geminiHome, '.gemini', 'settings.json'), JSON.stringify(settings, null, 2));
    const env = { ...sandbox.env, HOME: home, TMPDIR: tmp, GEMINI_CLI_HOME: geminiHome, GOOGLE_GEMINI_BASE_URL: model.url, GEMINI_API_KEY: 'fake-gemini-key', GEMINI_CLI_NO_RELAUNCH: 'true' };
    const result = await run(GEMINI, ['-p', `[tool:mcp_fracta_spawn ${spawnArgs('gemini')}]`, '--skip-trust', '-o', 'json'], { env, cwd: sandbox.dir, timeout: HEAVY_MS });
    const toolResults = JSON.stringify(model.messages().at(-1)?.body.contents ?? []);
    expect(toolResults).toContain('echo: hello via gemini');
    expect(result.code).toBe(0);
    expect(recordedRuns(sandbox)).toEqual([expect.objectContaining({ status: 'succeeded', output: 'echo: hello via gemini' })]);
  }, HEAVY_MS);
});
