/**
 * Large output: a run that prints 100 MB. The CLI is `cat` of a 100 MB file on both sides, so the
 * child does exactly the same work: under fracta (a `command` runtime, output: text, stdout streamed
 * to the run's log), and directly (child_process, stdout piped into a file, as fracta does). Twice:
 * as is, and with a secret injected into the runtime's env (`${VAR}`), which makes fracta mask the
 * output as it streams. The server's RSS growth is its peak during the run (VmHWM, reset before the
 * run, and VmRSS sampled) minus its RSS before it, each on a fresh server warmed up with one small run;
 * its floor is the growth of a bare Node process doing the same copy (bench/floor-pipe.mjs).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH, config, makeSandbox, NODE, now, paired, resetPeak, rssMb, sampleRss, spawnRecord, startFracta, stats, timedRun } from '../lib.mjs';

const MARKER = 'END-OF-OUTPUT';

/** A file of `bytes` bytes of text lines (random letters, so nothing on the way can compress it), ending with a marker. */
function writeBigFile(file, bytes) {
  const line = (length) => `${crypto.randomBytes(length).toString('base64url').slice(0, length - 1)}\n`;
  const block = Buffer.from(Array.from({ length: 1024 }, () => line(100)).join(''));
  const fd = fs.openSync(file, 'w');
  let written = 0;
  const tail = Buffer.from(`${MARKER}\n`);
  while (written + block.length + tail.length <= bytes) {
    fs.writeSync(fd, block);
    written += block.length;
  }
  const rest = bytes - written - tail.length;
  fs.writeSync(fd, Buffer.concat([Buffer.alloc(rest, 'x'), tail]));
  fs.closeSync(fd);
}

/** One 100 MB run on a fresh server: its time and the server's RSS growth. */
async function measure({ runtime, file, small, bytes, masked }) {
  const secret = `sk-bench-${crypto.randomBytes(12).toString('hex')}`;
  const env = masked ? ['env:', '  BENCH_AGENT_TOKEN: "${BENCH_SECRET_VALUE}"'] : [];
  const sandbox = makeSandbox(
    'output',
    config(
      {
        [runtime]: ['adapter: command', 'command: cat', `args: [${JSON.stringify(file)}]`, 'output: text', ...env],
        'cat-small': ['adapter: command', 'command: cat', `args: [${JSON.stringify(small)}]`, 'output: text', ...env],
      },
      { default_runtime: runtime },
    ),
    masked ? { BENCH_SECRET_VALUE: secret } : {},
  );
  const server = await startFracta(sandbox);
  // A small run first, so that what fracta loads on its first spawn is in the baseline.
  await spawnRecord(server, { task: 'warm-up', runtime: 'cat-small', wait_s: 50 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = rssMb(server.pid);
  const hwmReset = resetPeak(server.pid);
  const sampler = sampleRss(server.pid, 10);
  const started = now();
  const record = await spawnRecord(server, { task: 'print the file', runtime, wait_s: 50 });
  const ms = now() - started;
  const { sampled, hwm } = sampler.stop();
  await server.close();
  if (record.output_bytes !== bytes || !record.output.trimEnd().endsWith(MARKER)) {
    throw new Error(`large output: output_bytes ${record.output_bytes} (expected ${bytes}), ends ${JSON.stringify(record.output.slice(-40))}`);
  }
  return { ms, before, growth: (hwmReset ? Math.max(hwm, sampled) : sampled) - before, sampledGrowth: sampled - before, hwmReset };
}

export async function largeOutput({ rounds, warmups, bytes, log }) {
  const setup = makeSandbox('output-data', '');
  const file = path.join(setup.dir, 'output.txt');
  writeBigFile(file, bytes);
  const small = path.join(setup.dir, 'small.txt');
  writeBigFile(small, 200_000);
  const sink = path.join(setup.dir, 'direct.out');
  // Warm-up: the file into the page cache, so no side pays for reading it from disk.
  await timedRun('cat', [file], { stdoutFile: sink });
  const results = { plain: [], masked: [] };
  const direct = [];
  const nodeFloor = [];
  for (let round = 0; round < warmups + rounds; round++) {
    const plain = await measure({ runtime: 'cat', file, small, bytes, masked: false });
    const masked = await measure({ runtime: 'cat', file, small, bytes, masked: true });
    const floor = await timedRun('cat', [file], { stdoutFile: sink });
    if (fs.statSync(sink).size !== bytes) throw new Error('direct cat wrote a different size');
    fs.rmSync(sink, { force: true });
    const bare = JSON.parse((await timedRun(NODE, [path.join(BENCH, 'floor-pipe.mjs'), file, sink])).stdout);
    fs.rmSync(sink, { force: true });
    if (round >= warmups) {
      results.plain.push(plain);
      results.masked.push(masked);
      direct.push(floor.ms);
      nodeFloor.push(bare.growth);
    }
    log(
      `large output: round ${round + 1}/${warmups + rounds}: ${plain.ms.toFixed(0)} ms (masked ${masked.ms.toFixed(0)} ms) under fracta, ${floor.ms.toFixed(0)} ms direct; RSS +${plain.growth.toFixed(1)} MB (masked +${masked.growth.toFixed(1)} MB)`,
    );
  }
  const mb = (bytes / 1e6).toFixed(0);
  const peakMethod = results.plain.every((result) => result.hwmReset) ? 'VmHWM (reset before the run) and sampled VmRSS' : 'sampled VmRSS (VmHWM could not be reset)';
  const rows = [];
  for (const kind of ['plain', 'masked']) {
    const label = kind === 'masked' ? ' with a secret to mask' : '';
    rows.push(
      {
        section: 'Large output',
        name: `${mb} MB of output (\`cat\` of a file)${label}: call → result`,
        fracta: stats(results[kind].map((result) => result.ms)),
        floorName: '`cat` of the same file, piped to a file directly',
        floor: stats(direct),
        ...paired(
          results[kind].map((result) => result.ms),
          direct,
        ),
        meaning:
          kind === 'masked'
            ? 'The same, when the runtime has a secret in its env (an API key, say): every byte is checked for it before it reaches the log.'
            : 'What a chatty agent (build logs, test output) costs on top of producing its output.',
      },
      {
        section: 'Large output',
        name: `server RSS growth during ${mb} MB of output${label}`,
        unit: 'MB',
        fracta: stats(results[kind].map((result) => result.growth)),
        floorName: 'growth of a bare Node process piping the same output into a file (`bench/floor-pipe.mjs`)',
        floor: stats(nodeFloor),
        extra: `fracta's RSS before: ${stats(results[kind].map((result) => result.before)).median.toFixed(0)} MB; peak by ${peakMethod}; sampled VmRSS alone: +${stats(results[kind].map((result) => result.sampledGrowth)).median.toFixed(1)} MB`,
        target: { kind: 'absolute', max: 32, text: '< 32 MB growth' },
        meaning: 'Whether a huge output can take the server (and the MCP client that owns it) down: it streams to disk instead of memory.',
      },
    );
  }
  return rows;
}
