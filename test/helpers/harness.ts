/**
 * End-to-end harness: a temporary FRACTA_HOME and fracta.yaml, the built server started over real
 * stdio with the MCP SDK Client, and cleanup that kills whatever a test started, even when it fails.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/cli.js');
export const ECHO_AGENT = path.join(ROOT, 'test/fixtures/echo-agent.mjs');

/** The real claude: the platform binary itself, so that a skipped postinstall does not matter. */
export const CLAUDE = ['node_modules/@anthropic-ai/claude-code-linux-x64/claude', 'node_modules/.bin/claude']
  .map((file) => path.join(ROOT, file))
  .find((file) => fs.existsSync(file))!;

/**
 * A claude runtime for fracta.yaml (under agent_runtimes) against a scripted Anthropic API at
 * `baseUrl`, with its HOME and TMPDIR in `dir`/claude-home and `dir`/claude-tmp (the caller makes
 * them). `env` adds variables; `extra` adds runtime keys.
 */
export function claudeRuntime(name: string, baseUrl: string, dir: string, extra = '', env: Record<string, string> = {}): string {
  const more = Object.entries(env).map(([key, value]) => `        ${key}: ${JSON.stringify(value)}\n`).join('');
  return `
    ${name}:
      adapter: claude
      command: ${CLAUDE}
      model: fake-sonnet
      model_tiers: { heavy: fake-opus, medium: fake-sonnet, light: fake-haiku }
      max_retries: 0
      nonessential_traffic: false
      env:
        HOME: ${dir}/claude-home
        TMPDIR: ${dir}/claude-tmp
        ANTHROPIC_BASE_URL: ${baseUrl}
        ANTHROPIC_API_KEY: sk-ant-fake
        DISABLE_AUTOUPDATER: "1"
        DISABLE_TELEMETRY: "1"
        DISABLE_ERROR_REPORTING: "1"
${more}${extra}`;
}

/** The fixture agent reading its prompt on stdin, as the only runtime; `agents` adds lines under agents:. */
export function echoStdinConfig(agents = ''): string {
  return `
agents:
  default_runtime: echo-agent
  kill_grace_s: 1
${agents}  agent_runtimes:
    echo-agent:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
`;
}

/** The settings of a runtime whose CLI (the fixture) answers one JSON result object, as Claude's does. */
export const ECHO_JSON_RUNTIME = `
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--json", "--stdin"]
      output: json
      session_path: session_id
      error_path: is_error
      cost_path: total_cost_usd
      usage_path: usage
      turns_path: num_turns`;

/** Runtimes over the fixture agent that most tests use. */
export const FIXTURE_CONFIG = `
agents:
  default_runtime: echo-agent
  kill_grace_s: 1
  agent_runtimes:
    echo-agent:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--model", "{model}", "--", "{prompt}"]
      prompt_via: arg
      output: text
      model: small
      model_tiers: { heavy: big, light: tiny }
    echo-stdin:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      prompt_via: stdin
    echo-json:${ECHO_JSON_RUNTIME}
      resume_args: ["--resume", "{resume_token}"]
    missing-cli:
      adapter: command
      command: my-agent-that-is-not-installed
    secretive:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      env:
        AGENT_TOKEN: "\${FRACTA_TEST_SECRET}"
`;

const cleanups: Array<() => Promise<void> | void> = [];

/** Registers work for afterEach; runs even when the test failed. */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    await Promise.resolve()
      .then(fn)
      .catch(() => undefined);
  }
}

export interface Sandbox {
  readonly dir: string;
  readonly home: string;
  readonly configPath: string;
  readonly env: Record<string, string>;
}

export function makeSandbox(config = FIXTURE_CONFIG): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-test-'));
  const home = path.join(dir, 'home');
  const configPath = path.join(dir, 'fracta.yaml');
  fs.writeFileSync(configPath, config);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('FRACTA_')) env[key] = value;
  env.FRACTA_HOME = home;
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, home, configPath, env };
}

export interface Server {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  readonly sandbox: Sandbox;
  readonly stderr: () => string;
  call(name: string, args: Record<string, unknown>, options?: Parameters<Client['callTool']>[2]): Promise<CallToolResult>;
}

/** `client`: a Client of the test's own (with capabilities and handlers, say elicitation); a plain one by default. */
export async function startServer(options: { config?: string; env?: Record<string, string>; client?: Client } = {}): Promise<Server> {
  return connectServer(makeSandbox(options.config), options.env, options.client);
}

/** A server on an existing sandbox (a second fracta on one FRACTA_HOME, a restart after a crash); killed after the test. */
export async function connectServer(sandbox: Sandbox, env: Record<string, string> = {}, given?: Client): Promise<Server> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'mcp', '--config', sandbox.configPath],
    env: { ...sandbox.env, ...env },
    cwd: sandbox.dir,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = given ?? new Client({ name: 'fracta-test', version: '0.0.0' });
  await client.connect(transport);
  const pid = transport.pid;
  onCleanup(async () => {
    await client.close().catch(() => undefined);
    if (pid) killQuietly(pid);
  });
  return {
    client,
    transport,
    sandbox,
    stderr: () => stderr,
    call: (name, args, callOptions) => client.callTool({ name, arguments: args }, undefined, callOptions) as Promise<CallToolResult>,
  };
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls until `check` returns a value (not undefined/false) or the time is up. */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The pids an echo-agent run wrote with @pidfile, once the file is there; killed after the test. */
export async function readPidfile(file: string): Promise<{ pid: number; grandchild: number | null; cwd: string }> {
  const pids = await until(() => fs.existsSync(file) && JSON.parse(fs.readFileSync(file, 'utf8')), `pidfile ${file}`);
  onCleanup(() => {
    killQuietly(pids.pid);
    if (pids.grandchild) killQuietly(pids.grandchild);
  });
  return pids;
}

export type RecordContent = Record<string, any>;

export function structured(result: CallToolResult): RecordContent {
  if (!result.structuredContent) throw new Error(`no structured content: ${JSON.stringify(result.content)}`);
  return result.structuredContent as RecordContent;
}

export function text(result: CallToolResult): string {
  return result.content.map((item) => (item.type === 'text' ? item.text : '')).join('\n');
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI (no shell) and collects its output. */
export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env: options.env, cwd: options.cwd, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
    onCleanup(() => {
      if (child.pid) killQuietly(child.pid);
    });
  });
}

const running = (record: RecordContent) => record.status === 'running' || record.status === 'queued';

/** Waits (with wait, as a parent would) until the run needs a decision or ends. */
export async function untilDecisionNeeded(server: Server, runId: string): Promise<RecordContent> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const record = structured(await server.call('wait', { run_id: runId, timeout_s: 30 }, { timeout: 40_000 }));
    if (record.needs_input || !running(record)) return record;
  }
  throw new Error(`run ${runId} never asked`);
}

/**
 * Waits until the run ends. wait returns at once while the run needs a decision: a new request is an
 * error, unless `letItAsk` (left unanswered on purpose, for the timeout to decide).
 */
export async function untilEnded(server: Server, runId: string, options: { letItAsk?: boolean } = {}): Promise<RecordContent> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const record = structured(await server.call('wait', { run_id: runId, timeout_s: 30 }, { timeout: 40_000 }));
    if (!running(record)) return record;
    if (record.needs_input && !options.letItAsk) throw new Error(`run ${runId} asks again: ${JSON.stringify(record.pending_requests)}`);
    if (record.needs_input) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`run ${runId} never ended`);
}

/**
 * The ask_parent round trip, as a parent does it: spawn, wait until the run needs a decision, answer
 * its one request with `message`, wait for the end. Returns the request as it was asked and the end.
 */
export async function askAndAnswer(server: Server, spawnArgs: Record<string, unknown>, message: string): Promise<{ asked: RecordContent; ended: RecordContent }> {
  const started = structured(await server.call('spawn', { ...spawnArgs, agent_mcp: true, wait_s: 0 }));
  const record = await untilDecisionNeeded(server, started.run_id);
  if (!record.needs_input) throw new Error(`run ${started.run_id} never asked: ${record.status} ${JSON.stringify(record.error)}`);
  const asked = record.pending_requests[0];
  await server.call('answer', { run_id: started.run_id, request_id: asked.request_id, decision: 'allow', message });
  return { asked, ended: await untilEnded(server, started.run_id) };
}
