/**
 * Cancel latency: a run whose agent (Node) has a grandchild in its process group; from the `cancel`
 * call to the moment no live member of the group is left (read from /proc by the benchmark, not
 * from fracta), and to the call's answer. Then the same for an agent and grandchild that ignore
 * SIGTERM (only SIGKILL after kill_grace_s ends them), and for a client that disconnects (closes the
 * server's stdin) instead of cancelling.
 */
import fs from 'node:fs';
import path from 'node:path';
import { alive, config, FIXTURES, groupMembers, makeSandbox, now, startFracta, stats, structured } from '../lib.mjs';

const GRACE_S = 1;

/** Resolves with the time at which the group has no live member, polling every millisecond or so. */
async function groupGone(pgid, knownPids, timeoutMs = 15_000) {
  const deadline = now() + timeoutMs;
  for (;;) {
    // The known pids are cheap to check; the whole of /proc is read only to confirm.
    if (knownPids.every((pid) => !alive(pid)) && groupMembers(pgid).length === 0) return now();
    if (now() > deadline) throw new Error(`process group ${pgid} still has ${groupMembers(pgid).join(', ')} after ${timeoutMs} ms`);
    // A timer, not a busy loop: on 2 cores a spinning benchmark would slow the server it measures.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function startHeld(server, dir, index, ignoreTerm) {
  const pidfile = path.join(dir, `pids-${index}.json`);
  const record = structured(await server.call('spawn', { task: `${pidfile}${ignoreTerm ? ' ignore-term' : ''}`, runtime: 'hold', wait_s: 0 }));
  if (record.status !== 'running' || !record.pid) throw new Error(`cancel: the run is ${record.status}, not running: ${JSON.stringify(record.error)}`);
  const deadline = now() + 15_000;
  while (!fs.existsSync(pidfile)) {
    if (now() > deadline) throw new Error('cancel: the fixture never wrote its pid file');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const pids = JSON.parse(fs.readFileSync(pidfile, 'utf8'));
  // Let the grandchild's shell start its own child (ignore-term) so the whole tree is there.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const members = groupMembers(record.pid);
  if (members.length < 2) throw new Error(`cancel: expected an agent and a grandchild in group ${record.pid}, found ${members.join(', ')}`);
  return { record, known: [pids.pid, pids.grandchild, ...members] };
}

export async function cancel({ rounds, warmups, termRounds, disconnectRounds, log }) {
  const hold = path.join(FIXTURES, 'hold.mjs');
  const runtimeConfig = () => config({ hold: ['adapter: command', `command: ${hold}`, 'output: text'] }, { default_runtime: 'hold', kill_grace_s: GRACE_S });
  const sandbox = makeSandbox('cancel', runtimeConfig());
  const server = await startFracta(sandbox);
  const results = { plain: { gone: [], answer: [] }, term: { gone: [], answer: [] } };
  const plan = [
    ...Array.from({ length: warmups + rounds }, (_, index) => ({ kind: 'plain', measured: index >= warmups })),
    ...Array.from({ length: termRounds }, () => ({ kind: 'term', measured: true })),
  ];
  for (const [index, step] of plan.entries()) {
    const { record, known } = await startHeld(server, sandbox.dir, index, step.kind === 'term');
    const started = now();
    const answered = server.call('cancel', { run_id: record.run_id }).then((result) => ({ at: now(), record: structured(result) }));
    const gone = await groupGone(record.pid, known);
    const answer = await answered;
    if (answer.record.status !== 'cancelled') throw new Error(`cancel: the run ended ${answer.record.status}`);
    if (step.measured) {
      results[step.kind].gone.push(gone - started);
      results[step.kind].answer.push(answer.at - started);
    }
  }
  await server.close();
  log(`cancel: ${plan.length} cancels done`);

  // Disconnect: the client goes away (stdin closes) while a run is going on.
  const disconnect = [];
  for (let index = 0; index < disconnectRounds; index++) {
    const own = makeSandbox('disconnect', runtimeConfig());
    const client = await startFracta(own);
    const { record, known } = await startHeld(client, own.dir, index, false);
    const started = now();
    const closing = client.client.close();
    const gone = await groupGone(record.pid, known);
    await closing;
    disconnect.push(gone - started);
    const after = JSON.parse(fs.readFileSync(path.join(own.home, 'runs', record.run_id, 'run.json'), 'utf8'));
    if (after.status !== 'interrupted') throw new Error(`disconnect: the run is ${after.status}, not interrupted`);
    await client.close();
  }
  log(`cancel: ${disconnectRounds} disconnects done`);

  const target = { kind: 'absolute', max: 100, text: '≤ 100 ms' };
  return [
    {
      section: 'Cancel',
      name: '`cancel` → process group gone (Node agent + grandchild)',
      fracta: stats(results.plain.gone),
      target,
      extra: `cancel answered after ${stats(results.plain.answer).median.toFixed(0)} ms (median)`,
      meaning: 'How fast a runaway agent (and whatever it started) really stops: no orphan keeps burning tokens or CPU.',
    },
    {
      section: 'Cancel',
      name: `\`cancel\` → group gone, agent and grandchild ignore SIGTERM (kill_grace_s ${GRACE_S})`,
      fracta: stats(results.term.gone),
      target: { kind: 'absolute', max: GRACE_S * 1000 + 100, text: `≤ grace + 100 ms (${GRACE_S * 1000 + 100} ms)` },
      extra: `cancel answered after ${stats(results.term.answer).median.toFixed(0)} ms (median)`,
      meaning: 'A process that ignores SIGTERM is SIGKILLed when the grace period ends, not left running.',
    },
    {
      section: 'Cancel',
      name: 'client disconnects (stdin closes) → process group gone',
      fracta: stats(disconnect),
      target: { kind: 'absolute', max: 100, text: '≤ 100 ms (same bar as cancel)' },
      meaning: 'Closing the MCP client (or it crashing) stops every run it started; none is left orphaned.',
    },
  ];
}
