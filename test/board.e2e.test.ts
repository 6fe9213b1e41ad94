/**
 * `fracta board` in a real Chromium (Debian's, driven by playwright-core): the page shows the spawn
 * tree live, a running run's log growing, and acts: a cancel from the page ends the run's whole
 * process tree (read in /proc), an answer from the page reaches the child. A request without the
 * token is refused. Skipped, saying why, only when no Chromium is installed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, FIXTURE_CONFIG, ROOT, alive, connectServer, killQuietly, makeSandbox, onCleanup, readPidfile, runCleanups, runCli, structured, until, type Sandbox } from './helpers/harness.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => fs.existsSync(file));
if (!CHROMIUM) console.warn('board.e2e: skipped: no Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)');

let browser: Browser | undefined;
beforeAll(async () => {
  if (!CHROMIUM) return;
  // As root, and on a machine whose network is closed: the flags keep Chromium from trying to call out.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => browser?.close());
afterEach(runCleanups);

const RECURSIVE_AGENT = path.join(ROOT, 'test/fixtures/recursive-agent.mjs');
const ACP_AGENT = path.join(ROOT, 'test/fixtures/acp-agent.mjs');

/** Starts `fracta board` on the sandbox's FRACTA_HOME and reads its URL. */
async function startBoard(sandbox: Sandbox): Promise<{ url: string; base: string; token: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, 'board', '--config', sandbox.configPath], { env: sandbox.env, cwd: sandbox.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  onCleanup(() => killQuietly(child.pid!));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await until(() => /fracta board: (http:\/\/\S+)/.exec(stderr)?.[1], 'the board URL');
  const parsed = new URL(url);
  return { url, base: parsed.origin, token: parsed.searchParams.get('token')!, child };
}

async function open(url: string): Promise<Page> {
  const page = await browser!.newPage();
  onCleanup(() => page.close());
  await page.goto(url);
  await page.waitForSelector('#connection:text("live")');
  return page;
}

const item = (page: Page, runId: string) => page.locator(`li[data-run="${runId}"]`);

describe.skipIf(!CHROMIUM)('fracta board in Chromium', () => {
  it('shows a tree of three runs, each nested under the run that spawned it, with its status', async () => {
    const sandbox = makeSandbox('');
    fs.writeFileSync(
      sandbox.configPath,
      `agents:\n  default_runtime: recursive\n  max_depth: 3\n  agent_runtimes:\n    recursive:\n      adapter: command\n      command: ${RECURSIVE_AGENT}\n      args: ["${CLI}", "${sandbox.configPath}"]\n`,
    );
    const spawned = await runCli(['spawn', '--task', 'recurse', '--json', '--config', sandbox.configPath], { env: sandbox.env, cwd: sandbox.dir });
    const root = JSON.parse(spawned.stdout);
    const board = await startBoard(sandbox);
    const page = await open(board.url);
    await expect.poll(() => page.locator('li[role=treeitem]').count()).toBe(3);
    const child = await page.locator(`li[data-run="${root.run_id}"] > ul[role=group] > li[role=treeitem]`).getAttribute('data-run');
    const grandchild = page.locator(`li[data-run="${child}"] > ul[role=group] > li[role=treeitem]`);
    expect(await grandchild.count()).toBe(1);
    expect(await item(page, root.run_id).locator('> .row .status').textContent()).toBe('succeeded');
    expect(await page.locator('#counts').textContent()).toBe('3 succeeded');
    // The keyboard moves through the tree and selects.
    await item(page, root.run_id).locator('> .row').click();
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => page.locator('#detail-head dd').first().textContent()).toBe(child);
  });

  it("a running run's log grows on the page as the agent writes it", async () => {
    const sandbox = makeSandbox(
      FIXTURE_CONFIG.replace(
        '  agent_runtimes:\n',
        `  agent_runtimes:\n    ticker:\n      adapter: command\n      command: ${process.execPath}\n      args: ["-e", "let i = 0; setInterval(() => console.log('tick ' + ++i), 150)"]\n`,
      ),
    );
    const server = await connectServer(sandbox);
    const run = structured(await server.call('spawn', { task: 'tick', runtime: 'ticker', wait_s: 0 }));
    const board = await startBoard(sandbox);
    const page = await open(board.url);
    await item(page, run.run_id).click();
    await page.waitForSelector('#log-window:text("tick 3")');
    const early = await page.locator('#log-size').textContent();
    await page.waitForSelector('#log-window:text("tick 12")');
    expect(await page.locator('#log-size').textContent()).not.toBe(early);
    expect(await item(page, run.run_id).locator('> .row .status').textContent()).toBe('running');
    await server.call('cancel', { run_id: run.run_id });
  });

  it("cancel from the page ends the run's whole process tree (read in /proc)", async () => {
    const sandbox = makeSandbox();
    const server = await connectServer(sandbox);
    const pidfile = path.join(sandbox.dir, 'pids.json');
    const run = structured(await server.call('spawn', { task: `@pidfile=${pidfile} @grandchild @sleep=60`, wait_s: 0 }));
    const pids = await readPidfile(pidfile);
    const board = await startBoard(sandbox);
    const page = await open(board.url);
    await item(page, run.run_id).click();
    await page.click('#cancel');
    await page.waitForSelector('#action-result:text("cancel: done")');
    await until(() => !alive(pids.pid) && !alive(pids.grandchild!), 'the agent and its grandchild to be gone');
    expect(structured(await server.call('status', { run_id: run.run_id })).status).toBe('cancelled');
    await expect.poll(() => item(page, run.run_id).locator('> .row .status').textContent()).toBe('cancelled');
  });

  it("a pending request answered from the page reaches the child", async () => {
    const state = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fracta-acp-'));
    onCleanup(() => fs.rmSync(state, { recursive: true, force: true }));
    const sandbox = makeSandbox(FIXTURE_CONFIG.replace('  agent_runtimes:\n', `  agent_runtimes:\n    fake-acp:\n      adapter: acp\n      command: ${ACP_AGENT}\n      env: ${JSON.stringify({ FAKE_ACP_STATE: state })}\n`));
    const server = await connectServer(sandbox);
    const run = structured(await server.call('spawn', { task: 'use @tool', runtime: 'fake-acp', wait_s: 0 }));
    const board = await startBoard(sandbox);
    const page = await open(board.url);
    await expect.poll(() => item(page, run.run_id).locator('> .row .status').textContent()).toBe('waiting for you');
    await item(page, run.run_id).click();
    await page.waitForSelector('.request button[data-decision=allow]');
    expect(await page.locator('.request strong').textContent()).toContain('wants to use run: echo hi');
    await page.fill('.request .answer-text', 'fine by me');
    await page.click('.request button[data-decision=allow]');
    const ended = await until(async () => {
      const record = structured(await server.call('status', { run_id: run.run_id }));
      return record.ended_at ? record : undefined;
    }, 'the run to end');
    expect(ended).toMatchObject({ status: 'succeeded', output: 'ACP-OK: the tool said hi' });
    expect(ended.requests).toMatchObject([{ decision: 'allow', decided_by: 'user', message: 'fine by me' }]);
    await expect.poll(() => item(page, run.run_id).locator('> .row .status').textContent()).toBe('succeeded');
  });

  it('refuses every request without the token, a change with the token only in the URL, and a Host of another name', async () => {
    const sandbox = makeSandbox();
    const board = await startBoard(sandbox);
    expect((await fetch(`${board.base}/`)).status).toBe(401);
    expect((await fetch(`${board.base}/api/runs`)).status).toBe(401);
    expect((await fetch(`${board.base}/api/runs?token=wrong`)).status).toBe(401);
    expect((await fetch(`${board.base}/api/runs?token=${board.token}`)).status).toBe(200);
    // A link or a form from another page can carry the URL's token but set no header: refused.
    const viaUrl = await fetch(`${board.base}/api/runs/r1/cancel?token=${board.token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(viaUrl.status).toBe(401);
    const form = await fetch(`${board.base}/api/runs/r1/cancel`, { method: 'POST', headers: { 'x-fracta-token': board.token, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    expect(form.status).toBe(415);
    const notJson = await fetch(`${board.base}/api/runs/r1/cancel`, { method: 'POST', headers: { 'x-fracta-token': board.token, 'content-type': 'application/json' }, body: '{nope' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { message: string } }).error.message).toBe('the request body is not JSON');
    const page = await browser!.newPage();
    onCleanup(() => page.close());
    const response = await page.goto(board.base);
    expect(response!.status()).toBe(401);
    expect(await page.textContent('body')).toContain('open the URL fracta board printed');
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(board.base);
      const req = request({ host: url.hostname, port: url.port, path: `/api/runs?token=${board.token}`, headers: { host: `evil.example:${url.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.once('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it("fracta mcp's board tool starts the board once and returns its URL; a child's fracta does not list it", async () => {
    const sandbox = makeSandbox();
    const server = await connectServer(sandbox);
    const first = structured(await server.call('board', {}));
    expect(first).toMatchObject({ started: true, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/) });
    expect(structured(await server.call('board', {}))).toEqual({ url: first.url, started: false });
    const page = await open(first.url);
    expect(await page.locator('#home').textContent()).toBe(sandbox.home);
    const child = await connectServer(sandbox, { FRACTA_PARENT_RUN: '20260101-000000-00000000', FRACTA_ROOT_RUN: '20260101-000000-00000000', FRACTA_DEPTH: '1' });
    const names = (await child.client.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain('ask_parent');
    expect(names).not.toContain('board');
  });

  it('a secret the agent prints reaches the page masked, in the record and in the log', async () => {
    const secret = 'sk-board-secret-4c1d9e77aa';
    const sandbox = makeSandbox();
    const server = await connectServer(sandbox, { FRACTA_TEST_SECRET: secret });
    const run = structured(await server.call('spawn', { task: '@env=AGENT_TOKEN', runtime: 'secretive' }));
    expect(run.output).toContain('AGENT_TOKEN=');
    const board = await startBoard(sandbox);
    const page = await open(board.url);
    await item(page, run.run_id).locator('> .row').click();
    await page.waitForSelector('#log-window:text("AGENT_TOKEN")');
    expect(await page.content()).not.toContain(secret);
    const api = await (await fetch(`${board.base}/api/runs?token=${board.token}`)).text();
    expect(api).toContain(run.run_id);
    expect(api).not.toContain(secret);
  });

  it('an empty FRACTA_HOME shows a page that says so and how to start', async () => {
    const sandbox = makeSandbox();
    const board = await startBoard(sandbox);
    const page = await open(board.url);
    await page.waitForSelector('#empty:not([hidden])');
    expect(await page.locator('#empty h2').textContent()).toBe('No runs yet');
    expect(await page.locator('#home').textContent()).toBe(sandbox.home);
    // A run started now appears without a reload.
    await runCli(['spawn', '--task', 'appears live', '--config', sandbox.configPath], { env: sandbox.env, cwd: sandbox.dir });
    await page.waitForSelector('li[role=treeitem] .task:text("appears live")');
    expect(await page.locator('#empty').isHidden()).toBe(true);
  });
});

