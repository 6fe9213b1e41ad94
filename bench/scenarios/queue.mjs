/**
 * Throughput under the queue: 200 spawns of a 100 ms fixture with max_concurrent 4 (global and for
 * the runtime), all sent at once (each with wait_s, so every call answers when its run ends). Wall
 * time from the first call to the last answer, against the ideal 200 / 4 × 100 ms, and against
 * the ideal with the fixture's measured run time; the server's peak RSS (VmHWM, and sampled VmRSS).
 * Each repetition uses a fresh server and FRACTA_HOME, warmed up with a few runs first.
 */
import path from 'node:path';
import { config, FIXTURES, makeSandbox, now, rssMb, sampleRss, spawnRecord, startFracta, stats, structured, timedRun, waitForEnd } from '../lib.mjs';

const CONCURRENCY = 4;
const FIXTURE_MS = 100;

export async function queue({ rounds, runs, warmupRuns, budgetMs, log }) {
  const began = now();
  const fixture = path.join(FIXTURES, 'sleep100.sh');
  const walls = [];
  const peaks = [];
  const sampledPeaks = [];
  const before = [];
  const fixtureMs = [];
  let statuses = {};
  for (let round = 0; round < rounds; round++) {
    const sandbox = makeSandbox(
      'queue',
      config(
        { sleep100: ['adapter: command', `command: ${fixture}`, 'output: text', `max_concurrent: ${CONCURRENCY}`] },
        { default_runtime: 'sleep100', max_concurrent: CONCURRENCY, max_runtime_concurrent: CONCURRENCY },
      ),
    );
    const server = await startFracta(sandbox);
    await Promise.all(Array.from({ length: warmupRuns }, (_, index) => spawnRecord(server, { task: `warm-up ${index}`, wait_s: 50 })));
    for (let index = 0; index < 3; index++) fixtureMs.push((await timedRun(fixture, [], { input: 'x' })).ms);
    before.push(rssMb(server.pid));
    const sampler = sampleRss(server.pid, 25);
    const started = now();
    const results = await Promise.all(
      Array.from({ length: runs }, (_, index) => server.call('spawn', { task: `job ${index}`, wait_s: 50 }, 300_000)),
    );
    // spawn answers at once for a run that is queued (wait_s only waits for a running one), so the
    // client then waits for every run, all at once, as a client fanning out would.
    const records = await Promise.all(results.map((result) => waitForEnd(server, structured(result))));
    walls.push(now() - started);
    const { sampled, hwm } = sampler.stop();
    peaks.push(hwm);
    sampledPeaks.push(sampled);
    statuses = {};
    for (const record of records) statuses[record?.status] = (statuses[record?.status] ?? 0) + 1;
    if (statuses.succeeded !== runs) throw new Error(`queue: ${JSON.stringify(statuses)} of ${runs} runs`);
    await server.close();
    log(`queue: round ${round + 1}/${rounds}: ${(walls.at(-1) / 1000).toFixed(2)} s, peak RSS ${hwm.toFixed(0)} MB`);
    // A slow queue is measured fewer times rather than blowing the whole run's time budget (n says so).
    if (round + 1 < rounds && now() - began + walls.at(-1) > budgetMs) {
      log(`queue: stopping after ${round + 1} round(s): the next would pass the ${budgetMs / 1000} s budget`);
      break;
    }
  }
  const idealMs = (runs / CONCURRENCY) * FIXTURE_MS;
  const fixtureMedian = stats(fixtureMs).median;
  const realIdeal = (runs / CONCURRENCY) * fixtureMedian;
  return [
    {
      section: 'Queue',
      name: `${runs} spawns, max_concurrent ${CONCURRENCY}, 100 ms fixture: wall time`,
      unit: 's',
      fracta: stats(walls.map((ms) => ms / 1000)),
      floorName: `ideal ${runs} / ${CONCURRENCY} × 100 ms`,
      floor: { n: 1, median: idealMs / 1000 },
      target: { kind: 'ratio', max: 1.1, text: '≤ 1.10× ideal' },
      meaning: 'Fan-out: how close a batch of queued runs comes to perfect use of the allowed slots.',
    },
    {
      section: 'Queue',
      name: `same, against the fixture's measured run time (${fixtureMedian.toFixed(0)} ms)`,
      unit: 's',
      fracta: stats(walls.map((ms) => ms / 1000)),
      floorName: `${runs} / ${CONCURRENCY} × measured fixture time`,
      floor: { n: 1, median: realIdeal / 1000 },
      context: true,
      meaning:
        'The same wall time against what the fixture itself takes here (a shell, `sleep 0.1`, process starts): the part above this is fracta\'s.',
    },
    {
      section: 'Queue',
      name: `server peak RSS over the ${runs} runs`,
      unit: 'MB',
      fracta: stats(peaks),
      floorName: 'RSS before the batch (after warm-up)',
      compare: false,
      floor: stats(before),
      extra: `sampled VmRSS peak ${stats(sampledPeaks).median.toFixed(0)} MB`,
      target: { kind: 'absolute', max: 120, text: '< 120 MB' },
      meaning: 'Memory the server holds while a long queue drains (VmHWM of the fracta process).',
    },
  ];
}
