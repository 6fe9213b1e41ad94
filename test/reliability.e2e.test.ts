/**
 * The guarantees users pick fracta for, done for real with processes: limits that hold (counted from
 * the OS, not from fracta), recursion that stops, recovery after SIGKILL, no orphans, no secret on
 * disk or in a result, flat memory for a huge output.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  alive,
  CLI,
  ECHO_AGENT,
  killQuietly,
  makeSandbox,
  onCleanup,
  readPidfile,
  ROOT,
  runCleanups,
  startServer,
  structured,
  text,
  until,
  type Sandbox,
} from './helpers/harness.js';

afterEach(runCleanups);

const RECURSIVE_AGENT = path.join(ROOT, 'test/fixtures/recursive-agent.mjs');

function config(extra = '', runtimeExtra = ''): string {
  return `
agents:
  default_runtime: echo-agent
  kill_grace_s: 1
  max_concurrent: 2
  max_runtime_concurrent: 2
${extra}
  agent_runtimes:
    echo-agent:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
${runtimeExtra}
    secretive:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      env:
        AGENT_TOKEN: "\${FRACTA_TEST_SECRET}"
`;
}

/** Agent processes of this sandbox that are alive now, read from /proc (not from fracta). */
function liveAgents(home: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('echo-agent.mjs')) continue;
      if (!fs.readFileSync(`/proc/${entry}/environ`, 'utf8').includes(`FRACTA_HOME=${home}\0`)) continue;
      if (alive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

/** Samples the number of live agents until stopped; returns the largest count seen. */
function sampleAgents(home: string): { stop: () => number } {
  let max = 0;
  const timer = setInterval(() => {
    max = Math.max(max, liveAgents(home).length);
  }, 15);
  return {
    stop: () => {
      clearInterval(timer);
      return max;
    },
  };
}

async function connect(sandbox: Sandbox, env: Record<string, string> = {}): Promise<{ client: Client; pid: number }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'mcp', '--config', sandbox.configPath],
    env: { ...sandbox.env, ...env },
    cwd: sandbox.dir,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'reliability', version: '0' });
  await client.connect(transport);
  const pid = transport.pid!;
  onCleanup(async () => {
    await client.close().catch(() => undefined);
    killQuietly(pid);
  });
  return { client, pid };
}

async function spawnMany(client: Client, count: number, task: string): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index++) {
    const result = await client.callTool({ name: 'spawn', arguments: { task: `${task} #${index}`, wait_s: 0 } });
    ids.push((result.structuredContent as { run_id: string }).run_id);
  }
  return ids;
}

async function waitAll(client: Client, ids: string[]): Promise<Array<Record<string, any>>> {
  const records = [];
  for (const id of ids) {
    for (;;) {
      const result = await client.callTool({ name: 'wait', arguments: { run_id: id, timeout_s: 50 } });
      const record = result.structuredContent as Record<string, any>;
      if (!['queued', 'running'].includes(record.status)) {
        records.push(record);
        break;
      }
    }
  }
  return records;
}

describe('concurrency', () => {
  it('20 spawns with max_concurrent 2 never have more than 2 agents alive, and all finish', async () => {
    const server = await startServer({ config: config() });
    const sampler = sampleAgents(server.sandbox.home);
    const ids = await spawnMany(server.client, 20, '@sleep=0.3 job');
    const first = structured(await server.call('status', { run_id: ids[19]! }));
    expect(first.status).toBe('queued');
    const records = await waitAll(server.client, ids);
    const maxAlive = sampler.stop();
    console.log(`max agents alive: ${maxAlive} (limit 2) over 20 runs`);
    expect(maxAlive).toBeLessThanOrEqual(2);
    expect(maxAlive).toBeGreaterThan(0);
    expect(records.map((record) => record.status)).toEqual(Array(20).fill('succeeded'));
    // In order: a later run never started before an earlier one.
    const starts = records.map((record) => record.started_at);
    expect([...starts].sort()).toEqual(starts);
  });

  it('two servers on one FRACTA_HOME share the limit', async () => {
    const sandbox = makeSandbox(config());
    const a = await connect(sandbox);
    const b = await connect(sandbox);
    const sampler = sampleAgents(sandbox.home);
    const [idsA, idsB] = await Promise.all([spawnMany(a.client, 8, '@sleep=0.3 a'), spawnMany(b.client, 8, '@sleep=0.3 b')]);
    const records = [...(await waitAll(a.client, idsA!)), ...(await waitAll(b.client, idsB!))];
    const maxAlive = sampler.stop();
    console.log(`max agents alive: ${maxAlive} (limit 2) over 16 runs from 2 servers`);
    expect(maxAlive).toBeLessThanOrEqual(2);
    expect(records.every((record) => record.status === 'succeeded')).toBe(true);
  });

  it('a queued run can be cancelled and never starts', async () => {
    const server = await startServer({ config: config() });
    const ids = await spawnMany(server.client, 3, '@sleep=2 block');
    const third = structured(await server.call('status', { run_id: ids[2]! }));
    expect(third.status).toBe('queued');
    const cancelled = structured(await server.call('cancel', { run_id: ids[2]! }));
    expect(cancelled).toMatchObject({ status: 'cancelled', pid: null, started_at: null, error: { code: 'cancelled' } });
    for (const id of ids.slice(0, 2)) await server.call('cancel', { run_id: id });
  });
});

describe('recursion guard', () => {
  it('an agent that spawns fracta recursively stops at max_depth with a clear refusal', async () => {
    const sandbox = makeSandbox();
    fs.writeFileSync(
      sandbox.configPath,
      `agents:\n  default_runtime: recursive\n  max_depth: 3\n  agent_runtimes:\n    recursive:\n      adapter: command\n      command: ${RECURSIVE_AGENT}\n      args: ["${CLI}", "${sandbox.configPath}"]\n`,
    );
    const { client } = await connect(sandbox);
    const result = await client.callTool({ name: 'spawn', arguments: { task: 'recurse', wait_s: 50 } }, undefined, { timeout: 60_000 });
    const record = result.structuredContent as Record<string, any>;
    expect(record.status).toBe('succeeded');
    expect(record.output).toBe('depth 1 -> succeeded(depth 2 -> succeeded(depth 3 -> refused:depth_limit))');
    const runs = ((await client.callTool({ name: 'runs', arguments: {} })).structuredContent as { runs: Array<Record<string, any>> }).runs;
    expect(runs.map((run) => run.depth).sort()).toEqual([1, 2, 3]);
    const byDepth = Object.fromEntries(runs.map((run) => [run.depth, run]));
    expect(byDepth[2].parent_run).toBe(byDepth[1].run_id);
    expect(byDepth[3].parent_run).toBe(byDepth[2].run_id);
    expect(byDepth[3].root_run).toBe(byDepth[1].run_id);
    expect(byDepth[1].children).toEqual([byDepth[2].run_id]);
  });

  // The refusal's words, max_children and forged chains: test/security-chain.e2e.test.ts, with real chains.
});

describe('crash recovery', () => {
  it('SIGKILL of the server mid-run, then a restart: the run is interrupted with its log, and no process is left', async () => {
    const sandbox = makeSandbox(config());
    const first = await connect(sandbox);
    const pidfile = path.join(sandbox.dir, 'pids.json');
    const started = (await first.client.callTool({ name: 'spawn', arguments: { task: `@pidfile=${pidfile} @grandchild @sleep=60`, wait_s: 0 } }))
      .structuredContent as Record<string, any>;
    const pids = await readPidfile(pidfile);
    process.kill(first.pid, 'SIGKILL');
    await until(() => !alive(first.pid), 'the server to die');
    expect(alive(pids.pid)).toBe(true); // the orphan a lesser server would leave behind

    const second = await connect(sandbox);
    const record = (await second.client.callTool({ name: 'status', arguments: { run_id: started.run_id } })).structuredContent as Record<string, any>;
    expect(record).toMatchObject({ status: 'interrupted', error: { code: 'server_stopped' } });
    expect(record.error.message).toMatch(/its process group, still running, was killed/);
    expect(alive(pids.pid)).toBe(false);
    expect(alive(pids.grandchild!)).toBe(false);
    // Its slots were given back: new runs start.
    const next = (await second.client.callTool({ name: 'spawn', arguments: { task: 'after the crash' } })).structuredContent as Record<string, any>;
    expect(next).toMatchObject({ status: 'succeeded', output: 'echo: after the crash' });
    // No record is half-written: every run.json parses.
    for (const id of fs.readdirSync(path.join(sandbox.home, 'runs'))) {
      expect(() => JSON.parse(fs.readFileSync(path.join(sandbox.home, 'runs', id, 'run.json'), 'utf8'))).not.toThrow();
    }
  });
});

describe('ending runs', () => {
  it('a process left behind by a run that ended is reaped', async () => {
    const server = await startServer({ config: config() });
    const pidfile = path.join(server.sandbox.dir, 'pids.json');
    const record = structured(await server.call('spawn', { task: `@pidfile=${pidfile} @grandchild done` }));
    expect(record.status).toBe('succeeded');
    const pids = await readPidfile(pidfile);
    expect(alive(pids.grandchild!)).toBe(false);
  });

  it('a child that writes nothing for idle_timeout_s is ended as timed_out', async () => {
    const server = await startServer({ config: config('  idle_timeout_s: 1') });
    const pidfile = path.join(server.sandbox.dir, 'pids.json');
    const started = Date.now();
    const record = structured(await server.call('spawn', { task: `@pidfile=${pidfile} @sleep=60` }));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(record).toMatchObject({ status: 'timed_out', error: { code: 'timed_out' } });
    expect(record.error.message).toMatch(/wrote nothing for 1 s \(idle_timeout_s\)/);
    expect(alive((await readPidfile(pidfile)).pid)).toBe(false);
  });
});

describe('secrets', () => {
  it('a value injected from ${VAR} appears in no file under FRACTA_HOME and in no MCP result', async () => {
    const secret = 'sk-live-9f8e7d6c5b4a3210';
    const server = await startServer({ config: config(), env: { FRACTA_TEST_SECRET: secret } });
    const results = [
      await server.call('spawn', { task: '@env=AGENT_TOKEN print it', runtime: 'secretive' }),
      await server.call('spawn', { task: '@env=AGENT_TOKEN @exit=2', runtime: 'secretive' }),
    ];
    const runs = await server.call('runs', {});
    const runtimes = await server.call('runtimes', {});
    const first = structured(results[0]!);
    const log = await server.client.readResource({ uri: first.log_uri });
    for (const result of [...results, runs, runtimes, log]) expect(JSON.stringify(result)).not.toContain(secret);
    expect(first.output).toBe('env AGENT_TOKEN=***');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else files.push(full);
      }
    };
    walk(server.sandbox.home);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) expect(fs.readFileSync(file, 'utf8'), file).not.toContain(secret);
  });

  it('inherit_env passes only the listed variables of fracta to the child', async () => {
    const server = await startServer({ config: config('  inherit_env: [PATH, HOME]'), env: { SOMETHING_PRIVATE: 'private-value' } });
    const record = structured(await server.call('spawn', { task: '@env=SOMETHING_PRIVATE' }));
    expect(record.output).toBe('env SOMETHING_PRIVATE=(unset)');
    const other = await startServer({ config: config(), env: { SOMETHING_PRIVATE: 'private-value' } });
    expect(structured(await other.call('spawn', { task: '@env=SOMETHING_PRIVATE' })).output).toBe('env SOMETHING_PRIVATE=private-value');
  });
});

describe('large output', () => {
  it('200 MB of output streams to disk while the server stays under 200 MB of RSS', async () => {
    const server = await startServer({ config: config() });
    const pid = server.transport.pid!;
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    const before = rss();
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, rss());
    }, 50);
    const record = structured(await server.call('spawn', { task: '@bytes=200000000', wait_s: 50 }, { timeout: 120_000 }));
    clearInterval(timer);
    console.log(`RSS for a 200 MB output: ${before.toFixed(0)} MB before, ${peak.toFixed(0)} MB at peak`);
    expect(record).toMatchObject({ status: 'succeeded', output_truncated: true });
    expect(record.output_bytes).toBeGreaterThan(200_000_000);
    expect(record.output.endsWith('END-OF-BYTES')).toBe(true);
    expect(peak).toBeLessThan(200);
    expect(peak - before).toBeLessThan(64);
  });
});
