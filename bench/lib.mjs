/**
 * Shared pieces of the benchmark: statistics, temporary sandboxes (FRACTA_HOME and fracta.yaml per
 * scenario), fracta servers driven by the MCP SDK Client, timed child processes, /proc readers, and
 * the bookkeeping that kills every process the benchmark started, even when it fails.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const BENCH = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH, '..');
/** The fracta under test: this checkout's build, or another one named by FRACTA_BENCH_CLI. */
export const CLI = process.env.FRACTA_BENCH_CLI ? path.resolve(process.env.FRACTA_BENCH_CLI) : path.join(ROOT, 'dist/cli.js');
export const FIXTURES = path.join(BENCH, 'fixtures');
export const NODE = process.execPath;

/** Every process this benchmark starts carries this in its environment (children inherit it). */
export const TAG = `FRACTA_BENCH_TAG=${process.pid}-${Date.now()}`;
const [TAG_NAME, TAG_VALUE] = TAG.split('=');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const now = () => performance.now();

// ---------------------------------------------------------------- statistics

export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/** median, p10, p90, min, max, n of a list of numbers. */
export function stats(values) {
  const sorted = [...values].filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}

/** Per-pair differences and ratios of two lists measured back to back. */
export function paired(a, b) {
  return {
    delta: stats(a.map((value, index) => value - b[index])),
    ratio: stats(a.map((value, index) => value / b[index])),
  };
}

// ---------------------------------------------------------------- cleanup

const cleanups = [];
const folders = [];
const children = new Set();

export function onCleanup(fn) {
  cleanups.push(fn);
}

export function killQuietly(pid, signal = 'SIGKILL') {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Processes (other than this one) that carry this run's tag: whatever the benchmark started. */
export function taggedProcesses() {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'utf8').includes(`${TAG_NAME}=${TAG_VALUE}\0`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Runs registered cleanups, then kills every tagged process left (agents, grandchildren, servers). */
export async function cleanupAll() {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    await Promise.resolve()
      .then(fn)
      .catch(() => undefined);
  }
  for (const pid of children) killQuietly(pid);
  children.clear();
  for (let round = 0; round < 3; round++) {
    const left = taggedProcesses();
    if (left.length === 0) break;
    for (const pid of left) killQuietly(pid);
    await sleep(50);
  }
  // Folders last, once nothing is left to write into them.
  while (folders.length > 0) {
    const dir = folders.pop();
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    } catch (error) {
      process.stderr.write(`bench: could not remove ${dir}: ${error.message}\n`);
    }
  }
}

let exiting = false;
/** Whether a signal asked the benchmark to stop (no new scenario starts then). */
export const stopping = () => exiting;
function emergencyKill() {
  for (const pid of children) killQuietly(pid);
  try {
    for (const pid of taggedProcesses()) killQuietly(pid);
  } catch {
    // best effort
  }
  for (const dir of folders) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort
    }
  }
}
process.on('exit', emergencyKill);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\nbench: got ${signal}, killing what it started\n`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------- sandboxes

/**
 * Variables fracta treats as secrets (src/config/env.ts): left out of the benchmark's environment,
 * so that every machine measures the same code path (masking has its own row, with a secret of its own).
 */
const SECRET_NAME = /(_API_KEY|_TOKEN|_SECRET|_PASSWORD|_SECRET_KEY)$/;
const SECRET_ENV = new Set(['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'GOOGLE_API_KEY', 'AZURE_OPENAI_API_KEY', 'GITHUB_TOKEN', 'GH_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'HF_TOKEN', 'NPM_TOKEN']);

/** The environment of every process the benchmark starts: this one's, tagged, without FRACTA_* and secrets. */
export function baseEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('FRACTA_') && !SECRET_NAME.test(key) && !SECRET_ENV.has(key)) env[key] = value;
  }
  env[TAG_NAME] = TAG_VALUE;
  return { ...env, ...extra };
}

/** A temporary folder with its own FRACTA_HOME and fracta.yaml; removed at cleanup. */
export function makeSandbox(name, config, extraEnv = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fracta-bench-${name}-`));
  const home = path.join(dir, 'home');
  const configPath = path.join(dir, 'fracta.yaml');
  fs.writeFileSync(configPath, config);
  folders.push(dir);
  return { dir, home, configPath, env: baseEnv({ ...extraEnv, FRACTA_HOME: home }) };
}

/** fracta.yaml with the given runtimes (name → lines of YAML, already indented by 6). */
export function config(runtimes, agents = {}) {
  const lines = ['agents:'];
  for (const [key, value] of Object.entries({ kill_grace_s: 1, ...agents })) lines.push(`  ${key}: ${value}`);
  lines.push('  agent_runtimes:');
  for (const [name, body] of Object.entries(runtimes)) lines.push(`    ${name}:`, ...body.map((line) => `      ${line}`));
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- fracta over MCP

/** `fracta mcp` on a sandbox, connected with the MCP SDK Client over real stdio. */
export async function startFracta(sandbox, { nodeArgs = [], env = {} } = {}) {
  const transport = new StdioClientTransport({
    command: NODE,
    args: [...nodeArgs, CLI, 'mcp', '--config', sandbox.configPath],
    env: { ...sandbox.env, ...env },
    cwd: sandbox.dir,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk) => {
    stderr += chunk.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const client = new Client({ name: 'fracta-bench', version: '0' });
  await client.connect(transport);
  const pid = transport.pid;
  children.add(pid);
  const close = async () => {
    await client.close().catch(() => undefined);
    // The server kills its runs when stdin ends; give it a moment, then make sure.
    for (let waited = 0; waited < 2_000 && alive(pid); waited += 20) await sleep(20);
    killQuietly(pid);
    children.delete(pid);
  };
  onCleanup(close);
  const tools = (await client.listTools()).tools;
  return {
    client,
    pid,
    tools,
    stderr: () => stderr,
    close,
    call: (name, args, timeout = 120_000) => client.callTool({ name, arguments: args }, undefined, { timeout }),
  };
}

export function structured(result) {
  if (!result.structuredContent) throw new Error(`no structured content: ${JSON.stringify(result.content).slice(0, 500)}`);
  return result.structuredContent;
}

/** Calls `wait` until the run has ended (a spawn answers at once for a run that is still queued). */
export async function waitForEnd(server, record) {
  while (record && ['queued', 'running'].includes(record.status)) {
    record = structured(await server.call('wait', { run_id: record.run_id, timeout_s: 50 }));
  }
  return record;
}

/** A spawn's record once the run has ended, or an error that says what went wrong. */
export async function spawnRecord(server, args, expectStatus = 'succeeded') {
  const result = await server.call('spawn', args);
  const record = await waitForEnd(server, structured(result));
  if (expectStatus && record.status !== expectStatus) {
    throw new Error(`spawn ended ${record.status}, not ${expectStatus}: ${JSON.stringify(record.error)} ${String(record.output).slice(0, 300)}`);
  }
  return record;
}

// ---------------------------------------------------------------- plain child processes

/**
 * Runs a command with `input` on stdin, collecting stdout (or piping it into `stdoutFile`); resolves
 * with the wall time from spawn to the exit with all output read.
 */
export function timedRun(command, args, { input = '', env = baseEnv(), cwd = os.tmpdir(), stdoutFile } = {}) {
  return new Promise((resolve, reject) => {
    const started = now();
    const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child.pid);
    const chunks = [];
    let sinkClosed = Promise.resolve();
    if (stdoutFile) {
      const sink = fs.createWriteStream(stdoutFile);
      sinkClosed = new Promise((resolve) => sink.once('close', resolve));
      child.stdout.pipe(sink);
    } else child.stdout.on('data', (chunk) => chunks.push(chunk));
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.once('error', reject);
    child.once('close', (code) => {
      void sinkClosed.then(() => {
        children.delete(child.pid);
        if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 300)}`));
        else resolve({ ms: now() - started, stdout: Buffer.concat(chunks).toString('utf8') });
      });
    });
  });
}

// ---------------------------------------------------------------- /proc

export function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Live (not zombie) members of a process group, from /proc. */
export function groupMembers(pgid) {
  const members = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return members;
}

/** Resident memory of a process in MB: `VmRSS` now, or `VmHWM` (its peak). */
export function rssMb(pid, field = 'VmRSS') {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`${field}:\\s+(\\d+)`).exec(status);
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Resets a process's peak RSS (VmHWM) to its current RSS; false where the kernel refuses. */
export function resetPeak(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the largest seen (and VmHWM). */
export function sampleRss(pid, everyMs = 20) {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // the process ended
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      let hwm = NaN;
      try {
        peak = Math.max(peak, rssMb(pid));
        hwm = rssMb(pid, 'VmHWM');
      } catch {
        // gone
      }
      return { sampled: peak, hwm };
    },
  };
}

export function loadAverage() {
  return os.loadavg().map((value) => value.toFixed(2)).join(' ');
}
