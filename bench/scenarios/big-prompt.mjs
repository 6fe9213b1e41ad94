/**
 * Big prompt: a 10 MB task sent through `spawn` (MCP over stdio) to a `command` runtime that reads
 * its prompt on stdin and answers with the prompt's length and SHA-256; checked against the
 * checksum of what was sent. The floor is the same fixture given the same bytes on stdin directly.
 * Then one prompt a little over the MCP SDK's stdio frame limit (10 MiB), to show what happens there.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { alive, config, FIXTURES, makeSandbox, now, paired, spawnRecord, startFracta, stats, timedRun } from '../lib.mjs';

/** Text of exactly `bytes` bytes: lines of random letters and digits with some non-ASCII, newline-ended. */
function makePrompt(bytes) {
  const parts = [];
  let size = 0;
  for (;;) {
    const line = `${crypto.randomBytes(72).toString('base64url')} é ✓\n`;
    const length = Buffer.byteLength(line);
    if (size + length > bytes - 1) break;
    parts.push(line);
    size += length;
  }
  parts.push(`${'x'.repeat(bytes - 1 - size)}\n`);
  return parts.join('');
}

export async function bigPrompt({ rounds, warmups, bytes, overBytes, log }) {
  const fixture = path.join(FIXTURES, 'sha.mjs');
  const sandbox = makeSandbox('prompt', config({ sha: ['adapter: command', `command: ${fixture}`, 'output: text'] }, { default_runtime: 'sha' }));
  const server = await startFracta(sandbox);
  const prompt = makePrompt(bytes);
  const size = Buffer.byteLength(prompt);
  const expected = `bytes=${size} sha256=${crypto.createHash('sha256').update(prompt).digest('hex')}`;
  const frame = Buffer.byteLength(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'spawn', arguments: { task: prompt, wait_s: 50 } } }));
  const times = { fracta: [], direct: [] };
  let intact = 0;
  for (let round = 0; round < warmups + rounds; round++) {
    const started = now();
    const record = await spawnRecord(server, { task: prompt, runtime: 'sha', wait_s: 50 });
    const fractaMs = now() - started;
    if (record.output.trim() !== expected) throw new Error(`big prompt: the agent got ${record.output.trim()}, expected ${expected}`);
    intact++;
    const direct = await timedRun(fixture, [], { input: prompt });
    if (direct.stdout.trim() !== expected) throw new Error(`big prompt (direct): ${direct.stdout.trim()}`);
    if (round === 0) times.first = fractaMs;
    if (round >= warmups) {
      times.fracta.push(fractaMs);
      times.direct.push(direct.ms);
    }
  }
  log(`big prompt: ${intact} runs, all intact`);

  // Over the SDK's frame limit (which fracta's own transport lifts): what a client sees (an answer, a refusal, or a closed connection).
  const over = makePrompt(overBytes);
  let outcome;
  let mark = '';
  try {
    const result = await server.call('spawn', { task: over, runtime: 'sha', wait_s: 50 }, 60_000);
    const record = result.structuredContent;
    if (result.isError) outcome = `refused: ${result.content?.[0]?.text?.slice(0, 160)}`;
    else if (record?.output?.trim() === `bytes=${Buffer.byteLength(over)} sha256=${crypto.createHash('sha256').update(over).digest('hex')}`) {
      outcome = 'delivered intact';
      mark = '✅';
    } else outcome = `answered ${record?.status}: ${String(record?.output).slice(0, 120)}`;
  } catch (error) {
    const gone = await new Promise((resolve) => setTimeout(() => resolve(!alive(server.pid)), 500));
    outcome = `no answer (${error.message.replace(/^MCP error -?\d+: /, '')})${gone ? '; the server exited, which stops every run it was running' : ''}`;
    mark = '⚠️';
  }
  await server.close();
  const mb = (size / 1e6).toFixed(0);
  return [
    {
      section: 'Big prompt',
      name: `${mb} MB prompt over MCP, delivered intact (SHA-256 checked, ${intact}/${intact}): call → result`,
      fracta: stats(times.fracta),
      floorName: 'same bytes on the fixture\'s stdin directly',
      floor: stats(times.direct),
      ...paired(times.fracta, times.direct),
      extra: `first time on the server (not in the median): ${times.first.toFixed(0)} ms; JSON-RPC frame ${(frame / 1e6).toFixed(2)} MB (fracta's transport takes up to 64 MiB; the MCP SDK's own closes the connection past 10.49 MB)`,
      meaning: 'Whole files, diffs or transcripts can be handed to an agent as its task, and arrive byte for byte.',
    },
    {
      section: 'Big prompt',
      name: `${(overBytes / 1e6).toFixed(0)} MB prompt (a JSON-RPC frame over the SDK's 10 MiB stdio limit)`,
      n: 1,
      outcome,
      outcomeMark: mark,
      meaning: 'Where the prompt size limit is today, and what a client sees past it.',
    },
  ];
}
