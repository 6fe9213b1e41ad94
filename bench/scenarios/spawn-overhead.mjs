/**
 * Spawn overhead: a `spawn` with `wait_s` (so the call returns the result) of a `command` runtime
 * whose CLI is a tiny fixture, timed at the MCP client from the call to the answer; against the same
 * fixture run directly with child_process (prompt on stdin, output collected). Two fixtures: a shell
 * script (starts in about a millisecond, so fracta's own time stands out from the noise) and a tiny
 * Node script (most agent CLIs are Node programs). Each pair is run back to back, and the added time
 * is the median of the pairs' differences.
 */
import path from 'node:path';
import { config, FIXTURES, makeSandbox, now, paired, spawnRecord, startFracta, stats, timedRun } from '../lib.mjs';

export async function spawnOverhead({ rounds, warmups, log }) {
  const fixtures = { sh: path.join(FIXTURES, 'tiny.sh'), node: path.join(FIXTURES, 'tiny.mjs'), claude: path.join(FIXTURES, 'fake-claude.mjs') };
  const args = { sh: [], node: [], claude: ['-p', '--output-format', 'text'] };
  const sandbox = makeSandbox(
    'spawn',
    config(
      {
        'tiny-sh': ['adapter: command', `command: ${fixtures.sh}`, 'output: text'],
        'tiny-node': ['adapter: command', `command: ${fixtures.node}`, 'output: text'],
        // What an independent harness ran: a Node stand-in for `claude -p --output-format text`, prompt on stdin.
        'tiny-claude': ['adapter: command', `command: ${fixtures.claude}`, 'args: ["-p", "--output-format", "text"]', 'prompt_via: stdin', 'output: text'],
      },
      { default_runtime: 'tiny-sh' },
    ),
  );
  const server = await startFracta(sandbox);
  const samples = { sh: { fracta: [], direct: [] }, node: { fracta: [], direct: [] }, claude: { fracta: [], direct: [] } };
  const answers = { sh: 'ok', node: 'ok', claude: 'Done: say ok' };
  const task = 'say ok';
  for (let round = 0; round < warmups + rounds; round++) {
    for (const kind of ['sh', 'node', 'claude']) {
      const started = now();
      const record = await spawnRecord(server, { task, runtime: `tiny-${kind}`, wait_s: 50 });
      const fracta = now() - started;
      if (!record.output.startsWith(answers[kind])) throw new Error(`tiny-${kind} answered ${JSON.stringify(record.output)}`);
      const direct = await timedRun(fixtures[kind], args[kind], { input: task, cwd: sandbox.dir });
      if (!direct.stdout.startsWith(answers[kind])) throw new Error(`direct ${kind} answered ${JSON.stringify(direct.stdout)}`);
      if (round >= warmups) {
        samples[kind].fracta.push(fracta);
        samples[kind].direct.push(direct.ms);
      }
    }
    if ((round + 1) % 10 === 0 || round + 1 === warmups + rounds) log(`spawn overhead: round ${round + 1}/${warmups + rounds}`);
  }
  await server.close();
  const breakdown = await traceBreakdown(sandbox, task, rounds);
  const row = (kind, label, cli = `a tiny ${label} CLI`) => ({
    section: 'Spawn overhead',
    name: `\`spawn\` (wait_s) of ${cli}: call → result`,
    fracta: stats(samples[kind].fracta),
    floorName: `same ${label} fixture run directly (child_process)`,
    floor: stats(samples[kind].direct),
    ...paired(samples[kind].fracta, samples[kind].direct),
    target: { kind: 'overhead', maxRatio: 1.02, maxAddedMs: 2, text: '≤ 1.02× direct, or ≤ 2 ms added' },
    meaning:
      kind === 'sh'
        ? 'The tax fracta puts on every run, on top of the CLI\'s own run time: MCP round trip, validation, run record, workspace, slot lease, logs to disk, result.'
        : kind === 'node'
          ? 'The same tax next to a realistic (Node) CLI start.'
          : 'The call an independent harness made: a Node stand-in for `claude -p --output-format text`, prompt on stdin, through `spawn` with `wait_s`, against running it directly.',
  });
  return [row('sh', 'shell'), row('node', 'Node'), row('claude', 'Node', 'a stand-in for `claude -p --output-format text`'), breakdown];
}

/**
 * Where the time of one spawn goes inside fracta (FRACTA_TRACE=spawn, on a server of its own so the
 * rows above are measured without it): the median of each step's share, from the call's arrival to
 * the answer. The steps are those of src/trace.ts.
 */
async function traceBreakdown(sandbox, task, rounds) {
  const server = await startFracta(sandbox, { env: { FRACTA_TRACE: 'spawn' } });
  for (let round = 0; round < rounds + 5; round++) await spawnRecord(server, { task, runtime: 'tiny-sh', wait_s: 50 });
  await server.close();
  const lines = server.stderr().split('\n').filter((line) => line.startsWith('fracta: trace ')).slice(5);
  const steps = new Map();
  const totals = [];
  for (const line of lines) {
    let previous = 0;
    for (const [, name, at] of line.matchAll(/(\w+)=([\d.]+)/g)) {
      steps.set(name, [...(steps.get(name) ?? []), Number(at) - previous]);
      previous = Number(at);
    }
    totals.push(previous);
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    section: 'Spawn overhead',
    context: true,
    name: 'inside fracta, call arrived → answer sent, by step (tiny shell CLI, FRACTA_TRACE=spawn)',
    fracta: stats(totals),
    extra: [...steps].map(([name, values]) => `${name} +${median(values).toFixed(2)}`).join(' · '),
    meaning: 'parsed: the request; planned: runtime, model, workspace, command; recorded: run folder, active marker, task and record on disk; slot: the queue and its lease; workspace: its files declared; process: folder, files and logs written, the child forked and exec\'d; running: the record with its pid; exited: the child ran; settled: outcome read; final: the terminal record written; answered: the waiter told.',
  };
}
