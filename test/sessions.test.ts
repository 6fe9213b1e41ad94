/**
 * Streamed runs and their sessions, through the core service with a stand-in streaming host: a live
 * session (follow-ups on stdin) and one that resumes per turn (a new process for each message).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentEvent } from '../src/events.js';
import { registerAdapter } from '../src/host/adapters.js';
import type { CommandInput, Host, StreamSpec } from '../src/host/host.js';
import type { RunRecord } from '../src/record.js';
import { Fracta } from '../src/service.js';
import { alive, onCleanup, runCleanups, until } from './helpers/harness.js';

const TURN_AGENT = path.join(import.meta.dirname, 'fixtures/turn-agent.mjs');

function parseLine(line: string): AgentEvent[] {
  const object = JSON.parse(line);
  if (object.type === 'init') return [{ type: 'init', session_id: object.session }];
  if (object.type === 'text') return [{ type: 'text', text: object.text }];
  if (object.type === 'result') {
    return [{ type: 'result', result: { output: object.text.trim(), isError: object.error, resumeToken: object.session, warnings: [] } }];
  }
  return [];
}

/** A streaming host over turn-agent.mjs; `live` picks stdin messages or a process per turn. */
function turnHost(live: boolean): Host {
  const stream = (input: CommandInput): StreamSpec => ({
    command: TURN_AGENT,
    args: [...(live ? ['--live'] : []), ...(input.resumeToken ? ['--resume', input.resumeToken] : [])],
    stdin: live ? `${JSON.stringify({ text: input.prompt })}\n` : input.prompt,
    parser: { line: parseLine },
    ...(live ? { encodeMessage: (text: string) => `${JSON.stringify({ text })}\n` } : {}),
  });
  return {
    adapter: live ? 'test-live' : 'test-turns',
    resumeInSameWorkdir: true,
    reportsCost: false,
    capabilities: () => ({ stream: true, resumeToken: true, agentMcp: false, toolPermissions: false }),
    command: () => TURN_AGENT,
    workspaceFiles: async () => [],
    buildBatchCommand: (input) => ({ ...stream(input), args: [] }),
    parseBatchOutput: () => ({ output: '', isError: false, warnings: [] }),
    buildStreamCommand: stream,
  };
}

beforeAll(() => {
  for (const live of [true, false]) {
    registerAdapter({ name: live ? 'test-live' : 'test-turns', optionsShape: {}, create: () => turnHost(live) });
  }
});
afterEach(runCleanups);

function service(options: { idleS?: number } = {}): Fracta {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-sessions-'));
  fs.writeFileSync(
    path.join(dir, 'fracta.yaml'),
    `agents:\n  default_runtime: live\n  kill_grace_s: 1\n  session_idle_timeout_s: ${options.idleS ?? 60}\n  agent_runtimes:\n    live: { adapter: test-live }\n    turns: { adapter: test-turns }\n`,
  );
  const fracta = new Fracta({ configPath: path.join(dir, 'fracta.yaml'), env: { ...process.env, FRACTA_HOME: path.join(dir, 'home') } });
  onCleanup(async () => {
    await fracta.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return fracta;
}

function events(record: RunRecord): AgentEvent[] {
  return fs
    .readFileSync(record.events_path!, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

for (const runtime of ['live', 'turns'] as const) {
  describe(`a ${runtime === 'live' ? 'live session' : 'session that resumes per turn'}`, () => {
    it('answers the task, then each message sent, until closed', async () => {
      const fracta = service();
      const first = await fracta.spawn({ task: 'one', runtime, stream: true, wait_s: 20 });
      expect(first).toMatchObject({ status: 'running', stream: true, awaiting_input: true, turns_done: 1, output: 'echo: one' });
      expect(first.resume_token).toMatch(/^sess-/);
      const second = await fracta.send({ run_id: first.run_id, message: 'two', wait_s: 20 });
      expect(second).toMatchObject({ status: 'running', awaiting_input: true, turns_done: 2, output: 'echo: two', resume_token: first.resume_token });
      const closed = await fracta.close({ run_id: first.run_id });
      expect(closed).toMatchObject({ status: 'succeeded', awaiting_input: false, output: 'echo: two', turns_done: 2 });
      const types = events(closed).map((event) => event.type);
      expect(types).toEqual(['init', 'text', 'result', 'user', 'init', 'text', 'result']);
    });

    it('refuses a message while the agent is still on the previous one', async () => {
      const fracta = service();
      const started = await fracta.spawn({ task: 'slow @sleep=1', runtime, stream: true, wait_s: 0 });
      await expect(fracta.send({ run_id: started.run_id, message: 'too early', wait_s: 0 })).rejects.toMatchObject({ code: 'session_busy' });
      const done = await fracta.wait({ run_id: started.run_id, timeout_s: 20 });
      expect(done.awaiting_input).toBe(true);
    });

    it('a failed turn leaves the session open; closing then reports the failure', async () => {
      const fracta = service();
      const first = await fracta.spawn({ task: 'break @fail', runtime, stream: true, wait_s: 20 });
      expect(first.awaiting_input).toBe(true);
      const closed = await fracta.close({ run_id: first.run_id });
      expect(closed).toMatchObject({ status: 'failed', error: { code: 'agent_error' } });
    });

    it('a turn that dies without a result fails the run with its stderr', async () => {
      const fracta = service();
      const first = await fracta.spawn({ task: 'go @crash', runtime, stream: true, wait_s: 20 });
      expect(first).toMatchObject({ status: 'failed', error: { code: 'exit_nonzero' } });
      expect(first.error!.message).toContain('crashed on purpose');
    });

    it('is closed when nobody sends a message within the idle timeout', async () => {
      const fracta = service({ idleS: 0.5 });
      const first = await fracta.spawn({ task: 'then nothing', runtime, stream: true, wait_s: 20 });
      const ended = await until(async () => {
        const record = await fracta.status({ run_id: first.run_id });
        return record.status !== 'running' && record;
      }, 'the idle close');
      expect(ended).toMatchObject({ status: 'succeeded', output: 'echo: then nothing' });
      expect(ended.warnings.join(' ')).toMatch(/closed after waiting too long/);
    });

    it('cancel while waiting for a message ends it as cancelled, with no process left', async () => {
      const fracta = service();
      const first = await fracta.spawn({ task: 'wait here', runtime, stream: true, wait_s: 20 });
      const pid = first.pid;
      const cancelled = await fracta.cancel({ run_id: first.run_id });
      expect(cancelled).toMatchObject({ status: 'cancelled', output: 'echo: wait here' });
      if (pid) expect(alive(pid)).toBe(false);
    });
  });
}

it('a session that resumes per turn runs each turn as a new process resuming the session', async () => {
  const fracta = service();
  const first = await fracta.spawn({ task: 'one', runtime: 'turns', stream: true, wait_s: 20 });
  // Between turns no process runs.
  await until(async () => (await fracta.status({ run_id: first.run_id })).pid === null, 'the first turn to exit');
  const second = await fracta.send({ run_id: first.run_id, message: 'two', wait_s: 20 });
  expect(second.resume_token).toBe(first.resume_token);
  // Both processes wrote to the one log; the second resumed the first's session.
  const log = await until(() => {
    const text = fs.readFileSync(second.stdout_path, 'utf8');
    return (text.match(/"type":"result"/g) ?? []).length === 2 && text;
  }, 'both turns in the log');
  expect(log.match(/"type":"init"/g)).toHaveLength(2);
  expect(log.match(new RegExp(`"session":"${first.resume_token}"`, 'g'))).toHaveLength(4);
});

it('shutdown between turns records the session as interrupted', async () => {
  const fracta = service();
  const first = await fracta.spawn({ task: 'one', runtime: 'turns', stream: true, wait_s: 20 });
  await fracta.shutdown();
  const record = await fracta.status({ run_id: first.run_id });
  expect(record).toMatchObject({ status: 'interrupted', error: { code: 'server_stopped' }, resume_token: first.resume_token });
});

it('a turn ends on its result even when the process lingers; the lingering process is reaped', async () => {
  const fracta = service();
  const first = await fracta.spawn({ task: 'answer then @linger', runtime: 'turns', stream: true, wait_s: 20 });
  expect(first).toMatchObject({ awaiting_input: true, output: 'echo: answer then @linger' });
  const pid = first.pid!;
  // kill_grace_s is 1: SIGTERM is ignored, SIGKILL follows.
  await until(() => !alive(pid), 'the lingering turn to be reaped', 10_000);
  const second = await fracta.send({ run_id: first.run_id, message: 'next', wait_s: 20 });
  expect(second).toMatchObject({ turns_done: 2, output: 'echo: next' });
});
