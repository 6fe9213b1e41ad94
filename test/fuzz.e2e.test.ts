/**
 * Thousands of random and hostile tool arguments over real stdio: the server never crashes, answers
 * every tool input problem as a tool result (never a protocol error), and never writes outside
 * FRACTA_HOME (path traversal in any id or name is refused).
 */
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { alive, runCleanups, startServer } from './helpers/harness.js';

afterEach(runCleanups);

const hostile = fc.constantFrom(
  '../../../../tmp/fracta-fuzz-escape',
  '..',
  '/etc/passwd',
  '20261124-013000-123abcde/../../x',
  'a\u0000b',
  '$(touch /tmp/fracta-fuzz-escape)',
  '`touch /tmp/fracta-fuzz-escape`',
  '--version',
  '-rf',
  '{model}',
  '${HOME}',
  '%s%s%n',
  '\u202e',
  'x'.repeat(10_000),
  '',
);

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  hostile,
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(hostile, fc.string()), { maxLength: 4 }),
  fc.dictionary(fc.string(), fc.oneof(hostile, fc.string()), { maxKeys: 3 }),
);

const fieldNames = ['task', 'runtime', 'model', 'tier', 'contract', 'allowed_tools', 'resume_token', 'resume_run', 'stream', 'agent_mcp', 'timeout_s', 'wait_s', 'cleanup', 'run_id', 'message', 'status', 'limit'];

/** Any shape at all. */
const randomCall = fc.record({
  name: fc.constantFrom('spawn', 'wait', 'status', 'cancel', 'send', 'close', 'runs', 'runtimes'),
  arguments: fc.dictionary(fc.oneof(fc.constantFrom(...fieldNames), fc.string()), anyValue, { maxKeys: 5 }),
});

/** Well-formed calls whose values are hostile: these get past the schema to the core. */
const text = fc.oneof(hostile, fc.string({ minLength: 1 }));
const wellFormedCall = fc.oneof(
  { weight: 3, arbitrary: fc.record(
    {
      name: fc.constant('spawn'),
      arguments: fc.record(
        { task: text, runtime: fc.oneof(text, fc.constant('echo-agent')), model: text, resume_run: text, resume_token: text, contract: text },
        { requiredKeys: ['task'] },
      ),
    },
  ) },
  // Rare, since each of these really runs the stand-in agent.
  { weight: 1, arbitrary: fc.record({ name: fc.constant('spawn'), arguments: fc.record({ task: text, runtime: fc.constant('echo-agent'), contract: text }, { requiredKeys: ['task', 'runtime'] }) }) },
  { weight: 3, arbitrary: fc.record({ name: fc.constantFrom('wait', 'status', 'cancel', 'close'), arguments: fc.record({ run_id: text }) }) },
  { weight: 3, arbitrary: fc.record({ name: fc.constant('send'), arguments: fc.record({ run_id: text, message: text }) }) },
);

const call = fc.oneof({ weight: 3, arbitrary: randomCall }, { weight: 1, arbitrary: wellFormedCall });

it('survives thousands of random and hostile tool calls', async () => {
  const escape = '/tmp/fracta-fuzz-escape';
  fs.rmSync(escape, { force: true });
  const server = await startServer();
  const pid = server.transport.pid!;
  const samples = fc.sample(call, { numRuns: 2_000, seed: 20261124 });
  let toolErrors = 0;
  for (const sample of samples) {
    // Keep the fuzz from starting real work: every spawn waits for nothing and asks a short timeout.
    const args = sample.name === 'spawn' ? { ...sample.arguments, wait_s: 0, timeout_s: 5 } : sample.arguments;
    const result = await server.client.callTool({ name: sample.name, arguments: args }).catch((error: Error) => {
      throw new Error(`protocol error for ${JSON.stringify(sample).slice(0, 300)}: ${error.message}`);
    });
    if (result.isError) toolErrors += 1;
  }
  expect(alive(pid)).toBe(true);
  expect(toolErrors).toBeGreaterThan(1_000);
  expect(fs.existsSync(escape)).toBe(false);
  // Everything fracta wrote is inside its home (and the sandbox holds nothing else but the config).
  expect(fs.readdirSync(server.sandbox.dir).sort()).toEqual(['fracta.yaml', 'home'].filter((name) => fs.existsSync(path.join(server.sandbox.dir, name))));
  const runs = fs.readdirSync(path.join(server.sandbox.home, 'runs'));
  // Some hostile calls were well-formed enough to start runs, and each got a folder of its own.
  expect(runs.length).toBeGreaterThan(10);
  for (const id of runs) expect(id).toMatch(/^\d{8}-\d{6}-\d{3}[0-9a-f]{5}$/);
  // And it still serves, once the runs the fuzz queued are through.
  const ok = await server.call('spawn', { task: 'still alive', wait_s: 0 });
  let record = ok.structuredContent as { run_id: string; status: string; output: string };
  while (record.status === 'queued' || record.status === 'running') {
    record = (await server.call('wait', { run_id: record.run_id, timeout_s: 50 })).structuredContent as typeof record;
  }
  expect(record.output).toBe('echo: still alive');
}, 240_000);
