/**
 * Fewer polls: one wait on several runs (any, all), a wait ceiling that fits the client named in
 * initialize, and progress that keeps flowing while a call waits. Over stdio here; the HTTP file
 * runs the multi-run wait again over HTTP.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURE_CONFIG, runCleanups, startServer, structured, text, until, type Server } from './helpers/harness.js';

afterEach(runCleanups);

async function started(server: Server, task: string): Promise<string> {
  const record = structured(await server.call('spawn', { task, wait_s: 0 }));
  expect(['queued', 'running']).toContain(record.status);
  return record.run_id;
}

async function cancelAll(server: Server, runIds: string[]): Promise<void> {
  for (const run_id of runIds) await server.call('cancel', { run_id });
}

describe('wait on several runs', () => {
  it('mode any returns when the first run ends, with every run\'s record and which are ready', async () => {
    const server = await startServer();
    const slow = await started(server, '@sleep=30 slow');
    const quick = await started(server, '@sleep=0.3 quick');
    const slower = await started(server, '@sleep=30 slower');
    const begun = Date.now();
    const result = await server.call('wait', { run_ids: [slow, quick, slower], timeout_s: 20 });
    expect(Date.now() - begun).toBeLessThan(15_000);
    const answer = structured(result);
    expect(answer).toMatchObject({ run_id: quick, status: 'succeeded', output: 'echo: @sleep=0.3 quick', mode: 'any', ready: [quick] });
    expect(answer.runs.map((run: { run_id: string }) => run.run_id)).toEqual([slow, quick, slower]);
    expect(answer.runs.map((run: { status: string }) => run.status)).toEqual(['running', 'succeeded', 'running']);
    expect(result.isError).toBeFalsy();
    expect(text(result)).toMatch(/^1 of 3 run\(s\) ready \(mode any\)/);
    expect(text(result)).toContain(`- run ${slow} (runtime echo-agent) is running`);
    await cancelAll(server, [slow, slower]);
  });

  it('mode all returns once every run has ended, failed ones included', async () => {
    const server = await startServer();
    const first = await started(server, '@sleep=0.2 one');
    const failing = await started(server, '@sleep=0.5 @exit=3 two');
    const last = await started(server, '@sleep=1 three');
    const answer = structured(await server.call('wait', { run_ids: [first, failing, last], mode: 'all', timeout_s: 30 }));
    expect(answer.mode).toBe('all');
    expect([...answer.ready].sort()).toEqual([first, failing, last].sort());
    expect(Object.fromEntries(answer.runs.map((run: { run_id: string; status: string }) => [run.run_id, run.status]))).toEqual({
      [first]: 'succeeded',
      [failing]: 'failed',
      [last]: 'succeeded',
    });
  });

  it('mode all that times out says which runs are still going', async () => {
    const server = await startServer();
    const quick = await started(server, 'quick');
    const slow = await started(server, '@sleep=30 slow');
    const result = await server.call('wait', { run_ids: [quick, slow], mode: 'all', timeout_s: 1 });
    const answer = structured(result);
    expect(answer.ready).toEqual([quick]);
    expect(answer.runs.find((run: { run_id: string }) => run.run_id === slow).status).toBe('running');
    expect(text(result)).toContain('Call wait again with the run_ids still going.');
    await cancelAll(server, [slow]);
  });

  it('a run that needs no wait comes back at once, and run_id with run_ids counts each run once', async () => {
    const server = await startServer();
    const done = structured(await server.call('spawn', { task: 'done already' }));
    const slow = await started(server, '@sleep=30 slow');
    const begun = Date.now();
    const answer = structured(await server.call('wait', { run_id: slow, run_ids: [slow, done.run_id], timeout_s: 20 }));
    expect(Date.now() - begun).toBeLessThan(5_000);
    expect(answer.runs.map((run: { run_id: string }) => run.run_id)).toEqual([slow, done.run_id]);
    expect(answer.run_id).toBe(done.run_id);
    await cancelAll(server, [slow]);
  });

  it('an unknown run among several is named before anything waits', async () => {
    const server = await startServer();
    const slow = await started(server, '@sleep=30 slow');
    const begun = Date.now();
    const result = await server.call('wait', { run_ids: [slow, 'run-that-does-not-exist'], timeout_s: 20 });
    expect(Date.now() - begun).toBeLessThan(5_000);
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('run-that-does-not-exist');
    await cancelAll(server, [slow]);
  });

  it('refuses a wait that names no run, an empty list, or an unknown mode, naming the field', async () => {
    const server = await startServer();
    expect(text(await server.call('wait', {}))).toMatch(/wait\.run_id: give run_id \(one run\) or run_ids/);
    expect(text(await server.call('wait', { run_ids: [] }))).toMatch(/wait\.run_ids: must name at least one run/);
    expect(text(await server.call('wait', { run_ids: ['a'], mode: 'some' }))).toMatch(/wait\.mode/);
    expect(text(await server.call('wait', { run_ids: Array.from({ length: 101 }, (_, i) => `r${i}`) }))).toMatch(/at most 100 runs/);
  });

  it('one run by run_id still answers with that run\'s record alone', async () => {
    const server = await startServer();
    const runId = await started(server, '@sleep=0.2 single');
    const answer = structured(await server.call('wait', { run_id: runId, timeout_s: 20 }));
    expect(answer).toMatchObject({ run_id: runId, status: 'succeeded' });
    expect(answer.runs).toBeUndefined();
  });
});

describe('wait ceilings', () => {
  const description = async (server: Server, name: string) => (await server.client.listTools()).tools.find((tool) => tool.name === name)!.description!;

  it('a client named like Claude Code gets 110 s, said in the descriptions and on stderr', async () => {
    const server = await startServer({ client: new Client({ name: 'claude-code', version: '2.1.0' }) });
    expect(await description(server, 'spawn')).toContain('at most 110 for this client');
    expect(await description(server, 'wait')).toContain('at most 110 for this client');
    expect(await description(server, 'send')).toContain('at most 110 for this client');
    await until(() => server.stderr().includes('fracta: client claude-code 2.1.0, wait ceiling 110 s (known client)'), 'the ceiling on stderr');
  });

  it('an unknown client keeps 50 s', async () => {
    const server = await startServer({ client: new Client({ name: 'some-new-client', version: '0.1.0' }) });
    expect(await description(server, 'wait')).toContain('at most 50 for this client');
    await until(() => server.stderr().includes('wait ceiling 50 s (unknown client)'), 'the ceiling on stderr');
  });

  it('fracta.yaml overrides the ceiling per client name, and a wait asking for more returns at the ceiling', async () => {
    const config = `${FIXTURE_CONFIG}\n`.replace('  kill_grace_s: 1\n', '  kill_grace_s: 1\n  mcp:\n    wait_ceiling_s: { impatient-client: 1, default: 7 }\n');
    const server = await startServer({ config, client: new Client({ name: 'impatient-client', version: '1.0.0' }) });
    expect(await description(server, 'wait')).toContain('at most 1 for this client');
    const slow = await started(server, '@sleep=30 slow');
    const begun = Date.now();
    const answer = structured(await server.call('wait', { run_id: slow, timeout_s: 600 }));
    const waited = Date.now() - begun;
    expect(answer.status).toBe('running');
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(10_000);
    // spawn's wait_s is held to it too.
    const spawnBegun = Date.now();
    expect(structured(await server.call('spawn', { task: '@sleep=30 also slow', wait_s: 600 })).status).toBe('running');
    expect(Date.now() - spawnBegun).toBeLessThan(10_000);
    await server.call('cancel', { run_id: slow });

    const other = await startServer({ config, client: new Client({ name: 'another-client', version: '1.0.0' }) });
    expect(await description(other, 'wait')).toContain('at most 7 for this client');
    await until(() => other.stderr().includes('wait ceiling 7 s (config default)'), 'the config default on stderr');
  });

  it('refuses a ceiling past an hour in fracta.yaml, naming the key', async () => {
    const config = FIXTURE_CONFIG.replace('  kill_grace_s: 1\n', '  kill_grace_s: 1\n  mcp:\n    wait_ceiling_s: { claude-code: 99999 }\n');
    const server = await startServer({ config });
    expect(text(await server.call('runtimes', {}))).toMatch(/agents\.mcp\.wait_ceiling_s\.claude-code: must be at most 3600 seconds/);
  });
});

describe('progress while a call waits', () => {
  it('heartbeats name every run still going, at least every few seconds of a quiet wait', async () => {
    const server = await startServer();
    const one = await started(server, '@sleep=4 one');
    const two = await started(server, '@sleep=30 two');
    const notes: Array<{ at: number; message: string }> = [];
    const begun = Date.now();
    const answer = structured(
      await server.call('wait', { run_ids: [one, two], timeout_s: 20 }, { onprogress: (note) => void notes.push({ at: Date.now() - begun, message: note.message ?? '' }) }),
    );
    expect(answer.run_id).toBe(one);
    const beats = notes.filter((note) => note.message.includes(`run ${one} running for`) && note.message.includes(`run ${two} running for`));
    expect(beats.length).toBeGreaterThanOrEqual(2);
    // No gap between notifications near the 15 s a client's idle timer allows.
    const gaps = notes.map((note, i) => note.at - (i === 0 ? 0 : notes[i - 1]!.at));
    expect(Math.max(...gaps)).toBeLessThan(5_000);
    await cancelAll(server, [two]);
  });
});
