/**
 * Security: what a client or a config can make fracta hold is bounded. A client that stops reading
 * while a live session streams does not grow the server's memory; a `runs` answer stays under what
 * the SDK client accepts; a config that is a device, a FIFO, huge, or nested without end is refused
 * with config_invalid. The real server over stdio.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, CLI, echoStdinConfig, killQuietly, makeSandbox, onCleanup, ROOT, runCleanups, startServer, structured, text, until } from './helpers/harness.js';

afterEach(runCleanups);

const FLOOD = path.join(ROOT, 'test/fixtures/flood-claude.mjs');

const CONFIG = echoStdinConfig();

/** The server's resident memory (or its peak), in bytes, from /proc. */
function memory(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
}

/** A JSON-RPC peer over the server's stdio that can stop reading, as a stuck client does. */
function rawClient(child: ChildProcessWithoutNullStreams) {
  let buffer = '';
  const waiters = new Map<number, (message: any) => void>();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const message = JSON.parse(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      if (message.id !== undefined) waiters.get(message.id)?.(message);
    }
  });
  let nextId = 1;
  return {
    request(method: string, params: unknown): { id: number; answer: Promise<any> } {
      const id = nextId++;
      const answer = new Promise<any>((resolve) => waiters.set(id, resolve));
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
      return { id, answer };
    },
    notify(method: string) {
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method })}\n`);
    },
  };
}

describe('a client that stops reading', () => {
  it('does not make the server hold the notifications of a streaming agent: its memory stays bounded', async () => {
    const lines = 200_000;
    const sandbox = makeSandbox(`
agents:
  default_runtime: flood
  kill_grace_s: 1
  agent_runtimes:
    flood:
      adapter: claude
      command: ${FLOOD}
      env:
        FLOOD_LINES: "${lines}"
        FLOOD_DONE: ${path.join('__DIR__', 'flood-done')}
`);
    fs.writeFileSync(sandbox.configPath, fs.readFileSync(sandbox.configPath, 'utf8').replace('__DIR__', sandbox.dir));
    const child = spawn(process.execPath, [CLI, 'mcp', '--config', sandbox.configPath], { env: sandbox.env, cwd: sandbox.dir, stdio: ['pipe', 'pipe', 'pipe'] });
    onCleanup(() => killQuietly(child.pid!));
    const client = rawClient(child);
    await client.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'stuck', version: '0' } }).answer;
    client.notify('notifications/initialized');
    const before = memory(child.pid!, 'VmRSS');

    const call = client.request('tools/call', { name: 'spawn', arguments: { task: 'flood me', stream: true, wait_s: 50 }, _meta: { progressToken: 'flood' } });
    child.stdout.pause(); // the client stops reading: the pipe fills, then the server's writes wait
    await until(() => fs.existsSync(path.join(sandbox.dir, 'flood-done')), 'the agent to print everything', 60_000);
    const runs = fs.readdirSync(path.join(sandbox.home, 'runs'));
    const events = path.join(sandbox.home, 'runs', runs[0]!, 'events.jsonl');
    // Every line was read and logged by fracta while nobody read its answers.
    await until(() => fs.existsSync(events) && fs.readFileSync(events, 'utf8').includes('flood done'), 'fracta to take every event', 60_000);
    const grown = memory(child.pid!, 'VmHWM') - before;
    console.log(`server memory grew by ${(grown / 1024 / 1024).toFixed(1)} MiB over ${lines} events with its client not reading`);
    // Measured on 2 cores: 642 MiB when every notification was queued; 75 MiB now, the same as with no
    // progress asked for at all (the garbage of parsing 200,000 lines at full speed, before V8 collects).
    expect(grown).toBeLessThan(200 * 1024 * 1024);

    child.stdout.resume();
    const answer = await call.answer;
    expect(answer.result.structuredContent).toMatchObject({ status: 'running', output: 'flood done' });
    child.stdin.end();
    await until(() => !alive(child.pid!), 'the server to exit when its client leaves', 20_000);
  });
});

describe('answers the client can take', () => {
  it('a runs answer stays under the SDK client\'s 10 MiB, says it was cut, and the connection lives on', async () => {
    const server = await startServer({ config: CONFIG });
    const first = structured(await server.call('spawn', { task: 'a model' }));
    const runsDir = path.join(server.sandbox.home, 'runs');
    const model = JSON.parse(fs.readFileSync(path.join(runsDir, first.run_id, 'run.json'), 'utf8'));
    // 600 records with the largest output a record holds, of characters JSON escapes: 30 MiB or more.
    for (let index = 0; index < 600; index++) {
      const runId = `20261203-0${String(index).padStart(5, '0')}-${index.toString(16).padStart(8, '0')}`;
      fs.mkdirSync(path.join(runsDir, runId));
      fs.writeFileSync(path.join(runsDir, runId, 'run.json'), JSON.stringify({ ...model, run_id: runId, output: '"\u0001'.repeat(10_000), output_truncated: true }));
    }
    const answer = structured(await server.call('runs', { limit: 1000 }));
    expect(answer.truncated).toBe(true);
    expect(answer.runs.length).toBeGreaterThan(10);
    expect(answer.runs.length).toBeLessThan(601);
    expect(Buffer.byteLength(JSON.stringify(answer))).toBeLessThan(10 * 1024 * 1024);
    // Still connected, and the runs it holds are the newest.
    expect(answer.runs[0].run_id).toBe(first.run_id);
    expect(structured(await server.call('status', { run_id: first.run_id })).status).toBe('succeeded');
  });
});

describe('a config that is not one', () => {
  it('a FIFO, a device, a huge file, YAML nested without end or an alias bomb is config_invalid, and the server goes on', async () => {
    const server = await startServer({ config: CONFIG });
    expect(structured(await server.call('spawn', { task: 'before' })).status).toBe('succeeded');
    const file = server.sandbox.configPath;
    const attempts: Array<[string, () => void, RegExp]> = [
      ['a FIFO', () => execFileSync('mkfifo', [file]), /not a regular file/],
      ['a device', () => fs.symlinkSync('/dev/zero', file), /not a regular file/],
      ['huge', () => fs.writeFileSync(file, `# ${'x'.repeat(2 * 1024 * 1024)}\n`), /2097155 bytes/],
      ['nested', () => fs.writeFileSync(file, `agents:\n  x: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`), /nested more than 64 levels/],
      ['dashes', () => fs.writeFileSync(file, `${'- '.repeat(400_000)}x\n`), /nested more than 64 levels/],
      ['an alias bomb', () => fs.writeFileSync(file, ['a: &a [x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]'].join('\n')), /alias/],
    ];
    for (const [what, make, reason] of attempts) {
      fs.rmSync(file, { force: true });
      make();
      const started = Date.now();
      const result = await server.call('runtimes', {});
      expect(Date.now() - started, what).toBeLessThan(5_000);
      expect(result.isError, what).toBe(true);
      expect(text(result), what).toMatch(/config_invalid/);
      expect(text(result), what).toMatch(reason);
    }
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, CONFIG);
    expect(structured(await server.call('spawn', { task: 'after' })).status).toBe('succeeded');
  });
});
