/**
 * Security: FRACTA_HOME is in every child's environment, so a child can write anything there. What it
 * writes never hangs the server, lifts a limit, names a file outside the home for fracta to read or
 * remove, or keeps a run's processes alive after a crash. The real server over stdio.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  alive,
  connectServer,
  echoStdinConfig,
  makeSandbox,
  onCleanup,
  readPidfile,
  runCleanups,
  startServer,
  structured,
  text,
  until,
} from './helpers/harness.js';

afterEach(runCleanups);

const CONFIG = echoStdinConfig('  max_concurrent: 2\n');

function mkfifo(file: string): void {
  fs.rmSync(file, { force: true });
  execFileSync('mkfifo', [file]);
}

function editRecord(home: string, runId: string, change: (record: Record<string, any>) => void): void {
  const file = path.join(home, 'runs', runId, 'run.json');
  const record = JSON.parse(fs.readFileSync(file, 'utf8'));
  change(record);
  fs.writeFileSync(file, JSON.stringify(record));
}

describe('the slot mutex and leases', () => {
  it('a mutex that is not fracta\'s (a file, a folder of files dated in the future) does not stop a spawn', async () => {
    const server = await startServer({ config: CONFIG });
    const slots = path.join(server.sandbox.home, 'slots');
    fs.mkdirSync(slots, { recursive: true });
    fs.writeFileSync(path.join(slots, '.mutex'), 'not a folder');
    expect(structured(await server.call('spawn', { task: 'past a file' }))).toMatchObject({ status: 'succeeded', output: 'echo: past a file' });

    const folder = path.join(slots, '.mutex');
    fs.mkdirSync(path.join(folder, 'inside'), { recursive: true });
    const future = new Date(Date.now() + 3_600_000);
    fs.utimesSync(folder, future, future);
    expect(structured(await server.call('spawn', { task: 'past a folder' }))).toMatchObject({ status: 'succeeded', output: 'echo: past a folder' });
  });

  it('a freshly held mutex makes a spawn wait on the queue, never the server: other calls answer meanwhile', async () => {
    const server = await startServer({ config: CONFIG });
    const mutex = path.join(server.sandbox.home, 'slots', '.mutex');
    fs.mkdirSync(mutex, { recursive: true });
    const queued = structured(await server.call('spawn', { task: 'behind a held mutex', wait_s: 0 }));
    expect(queued.status).toBe('queued');
    const started = Date.now();
    const runtimes = await server.call('runtimes', {});
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(text(runtimes)).toContain('echo-agent');
    // Older than any holder lives: cleared, and the run starts.
    const done = structured(await server.call('wait', { run_id: queued.run_id, timeout_s: 30 }));
    expect(done).toMatchObject({ status: 'succeeded', output: 'echo: behind a held mutex' });
  });

  it('a lease forged for a running run and a live process does not take a slot', async () => {
    const server = await startServer({ config: CONFIG.replace('max_concurrent: 2', 'max_concurrent: 1') });
    const first = structured(await server.call('spawn', { task: 'first' }));
    const global = path.join(server.sandbox.home, 'slots', 'global');
    fs.mkdirSync(global, { recursive: true });
    // The test runner is alive, but it is not the run's fracta nor the run's agent.
    const forged = { run_id: first.run_id, owner: { pid: process.pid, started: null }, runtime: 'echo-agent' };
    fs.writeFileSync(path.join(global, `${first.run_id}.json`), JSON.stringify(forged));
    fs.writeFileSync(path.join(global, 'junk.json'), '{"run_id": 7}');
    mkfifo(path.join(global, 'fifo.json'));
    const next = structured(await server.call('spawn', { task: 'not blocked', wait_s: 20 }));
    expect(next).toMatchObject({ status: 'succeeded', output: 'echo: not blocked' });
  });

  it('a slots folder that cannot be used fails the spawn with state_corrupt naming it, and the server goes on', async () => {
    const server = await startServer({ config: CONFIG });
    const slots = path.join(server.sandbox.home, 'slots');
    fs.mkdirSync(server.sandbox.home, { recursive: true });
    fs.writeFileSync(slots, 'a file where a folder should be');
    const record = structured(await server.call('spawn', { task: 'nowhere to lease', wait_s: 20 }));
    expect(record).toMatchObject({ status: 'failed', error: { code: 'state_corrupt' } });
    expect(record.error.message).toContain(slots);
    fs.rmSync(slots);
    expect(structured(await server.call('spawn', { task: 'after the fix' }))).toMatchObject({ status: 'succeeded' });
  });
});

describe('records', () => {
  it('a record that is not fracta\'s is reported as state_corrupt with its path, and runs lists the rest', async () => {
    const server = await startServer({ config: CONFIG });
    const good = structured(await server.call('spawn', { task: 'good' }));
    const bad = structured(await server.call('spawn', { task: 'bad' }));
    const file = path.join(server.sandbox.home, 'runs', bad.run_id, 'run.json');
    fs.writeFileSync(file, '{"status": "running", "cut sh');
    const status = await server.call('status', { run_id: bad.run_id });
    expect(status.isError).toBe(true);
    expect(text(status)).toContain('state_corrupt');
    expect(text(status)).toContain(file);

    editRecord(server.sandbox.home, good.run_id, () => undefined); // still fracta's shape
    mkfifo(file);
    const started = Date.now();
    const fifo = await server.call('status', { run_id: bad.run_id });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(text(fifo)).toMatch(/state_corrupt[\s\S]*not a regular file/);
    const runs = structured(await server.call('runs', {}));
    expect(runs.runs.map((run: { run_id: string }) => run.run_id)).toEqual([good.run_id]);
  });

  it('the log resource reads the run\'s own log, never a file its record (or a link) names', async () => {
    const server = await startServer({ config: CONFIG });
    const record = structured(await server.call('spawn', { task: 'mine' }));
    const outside = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-outside-')), 'private.txt');
    onCleanup(() => fs.rmSync(path.dirname(outside), { recursive: true, force: true }));
    fs.writeFileSync(outside, 'PRIVATE CONTENT');
    editRecord(server.sandbox.home, record.run_id, (raw) => {
      raw.stdout_path = outside;
      raw.stderr_path = outside;
    });
    const log = await server.client.readResource({ uri: record.log_uri });
    expect(JSON.stringify(log)).toContain('echo: mine');
    expect(JSON.stringify(log)).not.toContain('PRIVATE CONTENT');

    const stdout = path.join(server.sandbox.home, 'runs', record.run_id, 'stdout.log');
    fs.rmSync(stdout);
    fs.symlinkSync(outside, stdout);
    expect(JSON.stringify(await server.client.readResource({ uri: record.log_uri }))).not.toContain('PRIVATE CONTENT');
    fs.rmSync(stdout);
    mkfifo(stdout);
    const started = Date.now();
    await server.client.readResource({ uri: record.log_uri });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('clean removes only the workspace the run id names, whatever folder a record claims', async () => {
    const server = await startServer({ config: CONFIG });
    const record = structured(await server.call('spawn', { task: 'to clean' }));
    const victim = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-victim-'));
    onCleanup(() => fs.rmSync(victim, { recursive: true, force: true }));
    fs.writeFileSync(path.join(victim, 'keep.txt'), 'precious');
    editRecord(server.sandbox.home, record.run_id, (raw) => {
      raw.workspace = victim;
    });
    const report = structured(await server.call('clean', { older_than_s: 0 }));
    expect(fs.readFileSync(path.join(victim, 'keep.txt'), 'utf8')).toBe('precious');
    expect(report.removed).toEqual([]);
    expect(JSON.stringify(report.failed)).toContain('fracta removes only its own workspaces');
  });
});

describe('recovery', () => {
  it('a running run whose record a child corrupted is reaped after a crash, and the restart names the record', async () => {
    const sandbox = makeSandbox(CONFIG);
    const first = await connectServer(sandbox);
    const pidfile = path.join(sandbox.dir, 'pids.json');
    const started = structured(await first.call('spawn', { task: `@pidfile=${pidfile} @grandchild @sleep=60`, wait_s: 0 }));
    const pids = await readPidfile(pidfile);
    const firstPid = first.transport.pid!;
    process.kill(firstPid, 'SIGKILL');
    await until(() => !alive(firstPid), 'the server to die');
    const file = path.join(sandbox.home, 'runs', started.run_id, 'run.json');
    fs.writeFileSync(file, 'garbage a child wrote');

    const second = await connectServer(sandbox);
    await second.call('runs', {});
    await until(() => !alive(pids.pid) && !alive(pids.grandchild!), 'the run\'s processes to be killed');
    await until(() => second.stderr().includes(file), 'the restart to name the record');
    expect(second.stderr()).toMatch(/its record cannot be read .*process group\(s\) were killed/);
    // The slot it held is free again.
    const next = structured(await second.call('spawn', { task: 'after' }));
    expect(next).toMatchObject({ status: 'succeeded', output: 'echo: after' });
  });
});
