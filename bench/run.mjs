#!/usr/bin/env node
/**
 * `npm run bench`: measures fracta on this machine against floors measured in the same run, prints
 * a table (medians, spread, ratios, targets) and writes it into docs/benchmarks.md.
 *
 *   node bench/run.mjs [--quick] [--only cold,spawn,queue,output,cancel,prompt,worktree] [--no-docs] [--json FILE]
 *
 * --quick     fewer repetitions (a smoke test of the benchmark itself; numbers are rough)
 * --only      run some scenarios only (docs/benchmarks.md is then left alone)
 * --no-docs   print the table, do not touch docs/benchmarks.md
 * --json FILE also write every row, with all its statistics, as JSON
 *
 * FRACTA_BENCH_CLI=/path/to/dist/cli.js measures another build (to try a change against this one).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupAll, CLI, config, FIXTURES, loadAverage, makeSandbox, now, ROOT, startFracta, stopping, taggedProcesses } from './lib.mjs';
import { bigPrompt } from './scenarios/big-prompt.mjs';
import { cancel } from './scenarios/cancel.mjs';
import { coldStart } from './scenarios/cold-start.mjs';
import { largeOutput } from './scenarios/large-output.mjs';
import { queue } from './scenarios/queue.mjs';
import { spawnOverhead } from './scenarios/spawn-overhead.mjs';
import { worktree } from './scenarios/worktree.mjs';
import { renderDocs, renderTable, targetSummary } from './report.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-docs': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const quick = values.quick;
const SCENARIOS = ['cold', 'spawn', 'queue', 'output', 'cancel', 'prompt', 'worktree'];
const only = values.only ? values.only.split(',').map((name) => name.trim()) : SCENARIOS;
for (const name of only) if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario ${name} (use ${SCENARIOS.join(', ')})`);

const began = now();
const log = (message) => process.stderr.write(`[${((now() - began) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);

function machine() {
  let distro = os.type();
  try {
    distro = /PRETTY_NAME="?([^"\n]+)/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? distro;
  } catch {
    // not Linux
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    if (dirty) commit += ' + uncommitted changes in src/';
  } catch {
    // not a git checkout
  }
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  return {
    cpu: `${os.cpus()[0]?.model?.replace(/\s+/g, ' ').trim() ?? 'unknown CPU'}, ${os.availableParallelism?.() ?? os.cpus().length} cores`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${distro}, kernel ${os.release()}`,
    node: process.version,
    fracta: `${version} (${commit})${CLI === path.join(ROOT, 'dist/cli.js') ? '' : `, CLI ${CLI}`}`,
    cores: os.availableParallelism?.() ?? os.cpus().length,
  };
}

async function toolsOfThisBuild() {
  const sandbox = makeSandbox('tools', config({ tiny: ['adapter: command', `command: ${path.join(FIXTURES, 'tiny.sh')}`] }));
  const server = await startFracta(sandbox);
  const tools = server.tools;
  await server.close();
  return tools;
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm run bench does)`);
  const info = machine();
  const loadBefore = loadAverage();
  log(`fracta ${info.fracta}, Node ${info.node}, ${info.cpu}; load average ${loadBefore}`);
  const rows = [];
  const plan = {
    cold: () => coldStart({ rounds: quick ? 3 : 15, warmups: quick ? 1 : 2, log }),
    spawn: () => spawnOverhead({ rounds: quick ? 5 : 30, warmups: quick ? 2 : 5, log }),
    queue: () => queue({ rounds: quick ? 1 : 3, runs: quick ? 40 : 200, warmupRuns: 8, budgetMs: quick ? 60_000 : 90_000, log }),
    output: () => largeOutput({ rounds: quick ? 1 : 4, warmups: 0, bytes: 100_000_000, log }),
    cancel: () => cancel({ rounds: quick ? 3 : 10, warmups: 2, termRounds: quick ? 1 : 3, disconnectRounds: quick ? 1 : 5, log }),
    prompt: () => bigPrompt({ rounds: quick ? 1 : 5, warmups: 1, bytes: 10_000_000, overBytes: 11_000_000, log }),
    worktree: async () => worktree({ rounds: quick ? 1 : 5, warmups: 1, tools: await toolsOfThisBuild(), log }),
  };
  const failures = [];
  for (const name of only) {
    if (stopping()) break;
    const started = now();
    log(`${name}: starting`);
    try {
      rows.push(...(await plan[name]()));
    } catch (error) {
      failures.push(`${name}: ${error.stack ?? error.message}`);
      rows.push({ section: name, name: `${name} (failed)`, unavailable: `failed: ${String(error.message).slice(0, 300)}`, meaning: '' });
      log(`${name}: FAILED: ${error.message}`);
    } finally {
      // Every scenario leaves nothing running behind it, even when it failed.
      await cleanupAll();
    }
    log(`${name}: done in ${((now() - started) / 1000).toFixed(1)} s`);
  }
  const leftover = taggedProcesses();
  if (leftover.length > 0) failures.push(`processes left running after cleanup: ${leftover.join(', ')}`);

  const run = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command: `npm run bench${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: info,
    load: { before: loadBefore, after: loadAverage() },
    seconds: (now() - began) / 1000,
    quick,
  };
  process.stdout.write(`\n${renderTable(rows)}\n\n${targetSummary(rows).join('\n')}\n`);
  process.stdout.write(`\nload average before ${run.load.before}, after ${run.load.after}; ${run.seconds.toFixed(0)} s in all\n`);
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify({ run, rows }, null, 2)}\n`);
  const complete = only.length === SCENARIOS.length;
  if (!values['no-docs'] && complete) {
    const file = path.join(ROOT, 'docs/benchmarks.md');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, renderDocs(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '', run, rows));
    log(`wrote ${path.relative(process.cwd(), file)}`);
  } else if (!values['no-docs']) log('docs/benchmarks.md left alone: only a full run (no --only) is written there');
  if (failures.length > 0) {
    process.stderr.write(`\n${failures.join('\n\n')}\n`);
    process.exitCode = 1;
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench: ${error.stack ?? error.message}\n`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
