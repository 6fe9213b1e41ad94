#!/usr/bin/env node
/**
 * Makes docs/board.png (and docs/board-request.png, a request waiting for an answer): the board over a FRACTA_HOME holding a tree of runs that are running,
 * queued, succeeded, failed and waiting for an answer (the stand-in agents of test/fixtures), in
 * Debian's Chromium. Then puts 1,000 run records in another FRACTA_HOME and prints how long the page
 * takes to show them (`node scripts/board-screenshot.mjs`, after `npm run build`).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/cli.js');
const ECHO = path.join(ROOT, 'test/fixtures/echo-agent.mjs');
const ACP = path.join(ROOT, 'test/fixtures/acp-agent.mjs');
const RECURSIVE = path.join(ROOT, 'test/fixtures/recursive-agent.mjs');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const work = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'fracta-board-shot-'));
const home = path.join(work, 'home');
const config = path.join(work, 'fracta.yaml');
fs.writeFileSync(
  config,
  `agents:
  default_runtime: echo
  max_concurrent: 4
  kill_grace_s: 1
  agent_runtimes:
    echo:
      adapter: command
      command: ${ECHO}
      args: ["--stdin"]
    ticker:
      adapter: command
      command: ${process.execPath}
      args: ["-e", "let i = 0; setInterval(() => console.log('step ' + ++i + ': reading src/queue.ts, 412 lines'), 120)"]
    reviewer:
      adapter: acp
      command: ${ACP}
      env: { FAKE_ACP_STATE: "${path.join(work, 'acp')}" }
    recursive:
      adapter: command
      command: ${RECURSIVE}
      args: ["${CLI}", "${config}"]
`,
);
const env = { ...process.env, FRACTA_HOME: home };
for (const key of Object.keys(env)) if (key.startsWith('FRACTA_') && key !== 'FRACTA_HOME') delete env[key];
const children = [];
const cleanup = () => {
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
};

function cli(args) {
  try {
    return execFileSync(process.execPath, [CLI, ...args, '--config', config], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return error.stdout;
  }
}

async function boardUrl(fractaHome) {
  const child = spawn(process.execPath, [CLI, 'board', '--config', config], { env: { ...env, FRACTA_HOME: fractaHome }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let text = '';
  return new Promise((resolve) =>
    child.stderr.on('data', (chunk) => {
      text += chunk;
      const match = /fracta board: (\S+)/.exec(text);
      if (match) resolve(match[1]);
    }),
  );
}

try {
  // Ended runs, done through the CLI: a small tree that succeeded, one that failed.
  cli(['spawn', '--runtime', 'recursive', '--task', 'Split the migration into three steps']);
  cli(['spawn', '--task', '@exit=3 Run the flaky integration suite']);
  // Live runs, owned by an MCP server that stays up while the picture is taken.
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', '--config', config], env, stderr: 'ignore' });
  const client = new Client({ name: 'board-screenshot', version: '0' });
  await client.connect(transport);
  const spawnNow = async (args) => (await client.callTool({ name: 'spawn', arguments: { wait_s: 0, ...args } })).structuredContent;
  const ticker = await spawnNow({ task: 'Refactor the queue so every slot stays busy', runtime: 'ticker' });
  const reviewer = await spawnNow({ task: 'use @tool to review the pull request for secrets in logs', runtime: 'reviewer' });
  for (const task of ['@sleep=600 Benchmark spawn overhead', '@sleep=600 Rewrite docs/benchmarks.md', '@sleep=600 Measure tools/list cold start']) await spawnNow({ task });
  await new Promise((resolve) => setTimeout(resolve, 2500));

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1440, height: 820 } });
  await page.goto(await boardUrl(home));
  await page.waitForSelector('#connection:text("live")');
  await page.locator(`li[data-run="${ticker.run_id}"] > .row`).click();
  await page.waitForSelector('#log-window:text("step 12")');
  await page.screenshot({ path: path.join(ROOT, 'docs/board.png') });
  console.log('wrote docs/board.png');
  await page.locator(`li[data-run="${reviewer.run_id}"] > .row`).click();
  await page.waitForSelector('.request button[data-decision=allow]');
  await page.screenshot({ path: path.join(ROOT, 'docs/board-request.png') });
  console.log('wrote docs/board-request.png');

  // 1,000 records: copies of one ended run under new ids.
  const many = path.join(work, 'many');
  const [one] = fs.readdirSync(path.join(home, 'runs'));
  const record = JSON.parse(fs.readFileSync(path.join(home, 'runs', one, 'run.json'), 'utf8'));
  for (let i = 0; i < 1000; i++) {
    const id = `20261201-${String(1000000 + i).slice(1)}-${String(i % 1000).padStart(3, '0')}${(0xa0000 + i).toString(16).slice(-5)}`;
    fs.mkdirSync(path.join(many, 'runs', id), { recursive: true });
    fs.writeFileSync(path.join(many, 'runs', id, 'run.json'), JSON.stringify({ ...record, run_id: id, root_run: id, parent_run: null, children: [], task_preview: `task ${i}`, created_at: new Date(Date.UTC(2026, 11, 1, 0, 0, i)).toISOString() }));
  }
  const url = await boardUrl(many);
  const timings = [];
  for (let round = 0; round < 5; round++) {
    const fresh = await browser.newPage({ viewport: { width: 1440, height: 820 } });
    const begun = performance.now();
    await fresh.goto(url);
    await fresh.waitForFunction(() => document.querySelectorAll('li[role=treeitem]').length === 1000);
    timings.push(performance.now() - begun);
    await fresh.close();
  }
  timings.sort((a, b) => a - b);
  console.log(`1000 runs on the page: median ${timings[2].toFixed(0)} ms, worst ${timings[4].toFixed(0)} ms (navigation to 1000 rows drawn, 5 loads)`);
  await browser.close();
  await client.close();
} finally {
  cleanup();
}
