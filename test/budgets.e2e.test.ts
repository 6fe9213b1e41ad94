/**
 * Budgets down a whole spawn tree, with the real claude against a scripted Anthropic API whose every
 * reply reports the same usage (1000 input and 100 output tokens), so that what a tree may spend and
 * what it spent can be said to the token and to the cent: a tree of three levels that stops when its
 * budget is spent, a live session stopped past its limit with the run it spawned in another fracta,
 * many fracta processes sharing one budget, and a fracta killed mid-run whose run counts once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, claudeRuntime, CLI, connectServer, killQuietly, onCleanup, runCleanups, runCli, startServer, structured, text, until, type RecordContent, type Server } from './helpers/harness.js';
import { startModelServer, type ModelRequest, type ModelServer, type Reply } from './model-server/anthropic.js';

afterEach(runCleanups);

const USAGE = { input_tokens: 1000, output_tokens: 100 };
const TOKENS_PER_REQUEST = USAGE.input_tokens + USAGE.output_tokens;
/** fracta.yaml's price for the model the runtime uses (US dollars per million tokens). */
const PRICE = { input: 3, output: 15 };
const USD_PER_REQUEST = (USAGE.input_tokens * PRICE.input + USAGE.output_tokens * PRICE.output) / 1e6;
const FANOUT_AGENT = path.join(path.dirname(CLI), '../test/fixtures/fanout-agent.mjs');
const SLEEPER = path.join(path.dirname(CLI), '../test/fixtures/echo-agent.mjs');

/** The first user message of a request: the task of the agent that makes it (claude repeats it on every request of a run). */
function taskOf(req: ModelRequest): string {
  const first = (req.body?.messages as Array<{ role: string; content: unknown }> | undefined)?.find((message) => message.role === 'user');
  return typeof first?.content === 'string' ? first.content : JSON.stringify(first?.content ?? '');
}

/** How many tool results the run has had back so far (one per spawn it made). */
function resultsSoFar(req: ModelRequest): number {
  return (req.body?.messages as Array<{ content: unknown }>).filter((message) => Array.isArray(message.content) && message.content.some((block: any) => block?.type === 'tool_result')).length;
}

async function startBudgeted(options: { agents?: string; reply?: (req: ModelRequest) => Reply | undefined } = {}): Promise<{ server: Server; model: ModelServer }> {
  const model = await startModelServer({ usage: USAGE, ...(options.reply ? { reply: options.reply } : {}) });
  onCleanup(() => model.close());
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fracta-budget-'));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['claude-home', 'claude-tmp']) fs.mkdirSync(path.join(dir, sub));
  const config = `
pricing:
  fake-sonnet: { input: ${PRICE.input}, output: ${PRICE.output} }
agents:
  default_runtime: claude
  kill_grace_s: 1
  max_concurrent: 8
  max_runtime_concurrent: 8
${options.agents ?? ''}  agent_runtimes:
${claudeRuntime('claude', model.url, dir)}
    sleeper:
      adapter: command
      command: ${SLEEPER}
      args: ["--stdin"]
    fanout:
      adapter: command
      command: ${FANOUT_AGENT}
      args: ["${CLI}", "@config"]
`;
  const server = await startServer({ config: config.replace('@config', '') });
  fs.writeFileSync(server.sandbox.configPath, config.replace('@config', server.sandbox.configPath));
  return { server, model };
}

function ledgerOf(server: Server, rootRun: string): RecordContent {
  return JSON.parse(fs.readFileSync(path.join(server.sandbox.home, 'budgets', `${rootRun}.json`), 'utf8'));
}

describe('budgets', () => {
  it('a batch run spends what the model server reported times the price table, to the cent, in its record and the ledger', async () => {
    const { server, model } = await startBudgeted();
    const result = await server.call('spawn', { task: 'price this', budget: { usd: 1 }, wait_s: 50 });
    const record = structured(result);
    expect(record.status).toBe('succeeded');
    const requests = model.messages().length;
    expect(requests).toBeGreaterThan(0);
    expect(record.spent.tokens).toBe(requests * TOKENS_PER_REQUEST);
    expect(record.spent.usd).toBeCloseTo(requests * USD_PER_REQUEST, 6);
    expect(record.budget).toMatchObject({ usd: 1, tokens: null });
    expect(record.budget.left.usd).toBeCloseTo(1 - requests * USD_PER_REQUEST, 6);
    expect(record.tree_spent).toMatchObject({ tokens: requests * TOKENS_PER_REQUEST, runs: 1 });
    expect(text(result)).toContain(`budget left: $${record.budget.left.usd} of $1`);
    const entry = ledgerOf(server, record.run_id).runs[record.run_id];
    expect(entry).toMatchObject({ settled: true, spent: { tokens: requests * TOKENS_PER_REQUEST } });
    // The CLI says it too: the runs list has a cost column, status the budget.
    const runs = await runCli(['runs', '--config', server.sandbox.configPath], { env: server.sandbox.env });
    expect(runs.stdout).toMatch(/COST/);
    expect(runs.stdout).toContain(`$${(requests * USD_PER_REQUEST).toFixed(4)}`);
  });

  it('a tree of three levels with fan-out stops when its budget is spent: the next child is refused before it starts', async () => {
    // root spawns CHILD-0, CHILD-1, CHILD-2 one after another; each child spawns one grandchild.
    const reply = (req: ModelRequest): Reply | undefined => {
      const task = taskOf(req);
      const done = resultsSoFar(req);
      if (task.includes('GRANDCHILD')) return { type: 'text', text: 'grandchild done' };
      const child = /CHILD-(\d)/.exec(task);
      if (child && !task.includes('ROOT-TASK')) {
        return done === 0 ? { type: 'tool_use', name: 'mcp__fracta__spawn', input: { task: `GRANDCHILD-${child[1]}`, wait_s: 50 } } : { type: 'text', text: `child ${child[1]} done` };
      }
      if (task.includes('ROOT-TASK')) {
        return done < 3 ? { type: 'tool_use', name: 'mcp__fracta__spawn', input: { task: `CHILD-${done} task`, agent_mcp: true, wait_s: 50 } } : { type: 'text', text: 'root done' };
      }
      return undefined;
    };
    const { server, model } = await startBudgeted({ reply });
    // Each run holds 1000 tokens until it ends. Root 1000 held + two children's subtrees of 3300 each
    // = 7600 used: 400 left, less than a run's hold, so CHILD-2 is refused.
    const root = structured(await server.call('spawn', { task: 'ROOT-TASK', agent_mcp: true, budget: { tokens: 8000 }, wait_s: 50 }, { timeout: 120_000 }));
    expect(root.status).toBe('succeeded');
    expect(root.output).toBe('root done');
    // No request of the refused child ever reached the model, and no run of it exists.
    const tasks = model.messages().map(taskOf);
    expect(tasks.some((task) => task.includes('CHILD-2') && !task.includes('ROOT-TASK'))).toBe(false);
    expect(tasks.filter((task) => task.includes('GRANDCHILD')).length).toBe(2);
    const runs = structured(await server.call('runs', { limit: 50 })).runs as RecordContent[];
    expect(runs).toHaveLength(5);
    // The root's agent got the refusal as its tool's answer: what ran out, and where to raise it.
    const refusal = model.messages().find((req) => taskOf(req).includes('ROOT-TASK') && resultsSoFar(req) === 3)!;
    const refused = JSON.stringify(refusal.body.messages.at(-1).content);
    expect(refused).toContain('budget_exhausted');
    expect(refused).toContain(`the tree's budget (run ${root.run_id}) allows 8000 tokens`);
    expect(refused).toContain('budget.tokens');
    // What the tree spent is every request the model served, to the token, and the sum of its records.
    const total = model.messages().length * TOKENS_PER_REQUEST;
    expect(root.tree_spent).toMatchObject({ tokens: total, runs: 5 });
    expect(runs.reduce((sum, run) => sum + run.spent.tokens, 0)).toBe(total);
    expect(root.budget.left.tokens).toBe(0);
    // The root's own last turns took the tree past its budget: it says so.
    expect(root.budget.exhausted).toContain('allows 8000 tokens');
    const children = runs.filter((run) => run.depth === 2);
    expect(children.map((run) => run.status)).toEqual(['succeeded', 'succeeded']);
    expect(runs.filter((run) => run.depth === 3)).toHaveLength(2);
  });

  it('a live session past its budget is stopped with its last answer kept, and so is the run it spawned in another fracta', async () => {
    const { server } = await startBudgeted({
      reply: (req) => {
        const task = taskOf(req);
        if (!task.includes('LIVE-ROOT')) return undefined;
        const last = req.lastUserText;
        if (last.includes('second turn')) return { type: 'text', text: 'the second answer' };
        return resultsSoFar(req) === 0
          ? { type: 'tool_use', name: 'mcp__fracta__spawn', input: { runtime: 'sleeper', task: `@sleep=60 @pidfile=${path.join(fs.realpathSync('/tmp'), `fracta-budget-sleeper-${process.pid}.json`)}`, wait_s: 0 } }
          : { type: 'text', text: 'the first answer' };
      },
    });
    const pidfile = path.join(fs.realpathSync('/tmp'), `fracta-budget-sleeper-${process.pid}.json`);
    onCleanup(() => fs.rmSync(pidfile, { force: true }));
    const progress: string[] = [];
    // Two requests (4400 tokens... 2200) of 2700: past 80%, a warning; the third request takes it past.
    const first = structured(
      await server.call('spawn', { task: 'LIVE-ROOT', stream: true, agent_mcp: true, budget: { tokens: 2700 }, wait_s: 50 }, { onprogress: (p) => void progress.push(String(p.message)), timeout: 60_000 }),
    );
    expect(first).toMatchObject({ status: 'running', awaiting_input: true, output: 'the first answer', spent: { tokens: 2 * TOKENS_PER_REQUEST } });
    expect(first.warnings.join('\n')).toMatch(/the tree's budget \(run \S+\) is 81% spent: 2200 tokens of 2700 tokens/);
    expect(progress.join('\n')).toMatch(/budget warning: the tree's budget/);
    const sleeperPid = (JSON.parse(await until(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8'), 'the sleeper to start')) as { pid: number }).pid;
    onCleanup(() => killQuietly(sleeperPid));
    const sleeper = (structured(await server.call('runs', {})).runs as RecordContent[]).find((run) => run.runtime === 'sleeper')!;
    expect(sleeper).toMatchObject({ status: 'running', parent_run: first.run_id });

    const ended = structured(await server.call('send', { run_id: first.run_id, message: 'second turn', wait_s: 50 }));
    expect(ended.status).toBe('failed');
    expect(ended.error.code).toBe('budget_exhausted');
    expect(ended.error.message).toContain('allows 2700 tokens and its runs have spent 3300 tokens');
    expect(ended.error.message).toContain('budget.tokens');
    expect(ended.output).toBe('the second answer');
    expect(ended.spent.tokens).toBe(3 * TOKENS_PER_REQUEST);
    // The run below it, owned by the fracta its agent was given, is stopped for the budget too.
    const below = structured(await server.call('wait', { run_id: sleeper.run_id, timeout_s: 20 }));
    expect(below.status).toBe('failed');
    expect(below.error.code).toBe('budget_exhausted');
    expect(alive(sleeperPid)).toBe(false);
    expect(fs.existsSync(below.stdout_path)).toBe(true);
  });

  it('many fracta processes spawning into one tree at once never take more than its budget between them', async () => {
    // Each run holds 1100 tokens (what a claude child here spends): the root's hold and five
    // children's fill the 6600; of eight children spawned at once, each by its own fracta, three are refused.
    const { server, model } = await startBudgeted({ agents: '  budget:\n    reserve: { tokens: 1100 }\n' });
    const spawns = Array.from({ length: 8 }, (_, index) => ({ runtime: 'claude', task: `fan ${index}` }));
    const root = structured(await server.call('spawn', { runtime: 'fanout', task: JSON.stringify({ spawns }), budget: { tokens: 6600 }, wait_s: 50 }, { timeout: 120_000 }));
    expect(root.status).toBe('succeeded');
    const { children } = JSON.parse(root.output) as { children: Array<{ status: string | null; error: { code: string } | null; spent: { tokens: number } | null }> };
    expect(children.filter((child) => child.status === 'succeeded')).toHaveLength(5);
    expect(children.filter((child) => child.error?.code === 'budget_exhausted')).toHaveLength(3);
    const perChild = model.messages().length / 5;
    expect(perChild).toBe(1);
    expect(root.tree_spent.tokens).toBe(5 * TOKENS_PER_REQUEST);
    expect(root.tree_spent.tokens).toBeLessThanOrEqual(6600);
    expect(root.tree_spent.runs).toBe(6);
  });

  it('a fracta killed mid-run: the next one settles the run from the ledger, and it counts once however often it is recovered', async () => {
    const { server } = await startBudgeted();
    const first = structured(await server.call('spawn', { task: 'a session to be orphaned', stream: true, budget: { tokens: 10_000 }, wait_s: 50 }));
    expect(first).toMatchObject({ status: 'running', awaiting_input: true, spent: { tokens: TOKENS_PER_REQUEST } });
    killQuietly(server.transport.pid!);
    await until(() => !alive(server.transport.pid!), 'the first fracta to die');
    for (let restart = 0; restart < 2; restart++) {
      const next = await connectServer(server.sandbox);
      const record = structured(await next.call('status', { run_id: first.run_id }));
      expect(record.status).toBe('interrupted');
      expect(record.spent.tokens).toBe(TOKENS_PER_REQUEST);
      expect(record.tree_spent.tokens).toBe(TOKENS_PER_REQUEST);
      expect(record.budget.left.tokens).toBe(10_000 - TOKENS_PER_REQUEST);
      const entry = ledgerOf(server, first.run_id).runs[first.run_id];
      expect(entry).toMatchObject({ settled: true, spent: { tokens: TOKENS_PER_REQUEST } });
      if (first.pid) expect(alive(first.pid)).toBe(false);
    }
  });

  it('wall_s stops the run at its deadline, its whole process tree, with budget_exhausted', async () => {
    const { server } = await startBudgeted();
    const pidfile = path.join(server.sandbox.dir, 'pids.json');
    const started = Date.now();
    const record = structured(await server.call('spawn', { runtime: 'sleeper', task: `@sleep=60 @grandchild @pidfile=${pidfile}`, budget: { wall_s: 1.5 }, wait_s: 30 }));
    expect(record.status).toBe('failed');
    expect(record.error.code).toBe('budget_exhausted');
    expect(record.error.message).toContain('ran out of time');
    expect(record.error.message).toContain('budget.wall_s');
    expect(Date.now() - started).toBeLessThan(15_000);
    const pids = JSON.parse(fs.readFileSync(pidfile, 'utf8')) as { pid: number; grandchild: number };
    expect(alive(pids.pid)).toBe(false);
    expect(alive(pids.grandchild)).toBe(false);
    expect(record.budget.deadline).not.toBeNull();
  });

  it('a money budget that cannot be held is refused before anything exists; runtimes says how each runtime knows its cost', async () => {
    const { server } = await startBudgeted();
    const refused = await server.call('spawn', { runtime: 'sleeper', task: 'no price', budget: { usd: 1 } });
    expect(refused.isError).toBe(true);
    const message = JSON.stringify(refused.content);
    expect(message).toContain('capability_missing');
    expect(message).toContain('budget.usd cannot be enforced for runtime \\"sleeper\\"');
    expect(fs.existsSync(path.join(server.sandbox.home, 'runs')) ? fs.readdirSync(path.join(server.sandbox.home, 'runs')) : []).toEqual([]);
    const runtimes = structured(await server.call('runtimes', {})).runtimes as RecordContent[];
    expect(Object.fromEntries(runtimes.map((runtime) => [runtime.name, runtime.money]))).toMatchObject({ claude: 'pricing', sleeper: 'unknown', codex: 'unknown' });
    const bad = await server.call('spawn', { task: 'x', budget: { usd: -1 } });
    expect(JSON.stringify(bad.content)).toContain('spawn.budget.usd');
  });

  it('the CLI: --budget-* flags on spawn, the budget in status, a bad value named by its field', async () => {
    const { server } = await startBudgeted();
    const env = server.sandbox.env;
    const config = ['--config', server.sandbox.configPath];
    const spawned = await runCli(['spawn', '--runtime', 'sleeper', '--task', '@sleep=30', '--budget-s', '1', '--budget-runs', '2', '--json', ...config], { env });
    expect(spawned.code).toBe(1);
    const record = JSON.parse(spawned.stdout) as RecordContent;
    expect(record.error.code).toBe('budget_exhausted');
    expect(record.budget).toMatchObject({ runs: 2, left: { runs: 1 } });
    const status = await runCli(['status', record.run_id, ...config], { env });
    expect(status.stdout).toMatch(/^budget: {4}2 runs \(1 left\), until \d{4}-/m);
    // Stopped before it said what it used: its record knows nothing, the ledger counts its hold.
    expect(status.stdout).toContain('spent:     -, 0 tokens, 0 turns');
    expect(status.stdout).toMatch(/^tree: {6}\$0\.0100, 1000 tokens, 1 turns in 1 run\(s\)/m);
    const bad = await runCli(['spawn', '--runtime', 'sleeper', '--task', 'x', '--budget-usd', 'lots', ...config], { env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spawn.budget.usd');
  });

  it('a resumed claude session counts only its own turns, in tokens and dollars', async () => {
    const { server, model } = await startBudgeted();
    const first = structured(await server.call('spawn', { task: 'the first run', wait_s: 50 }));
    const before = model.messages().length;
    const resumed = structured(await server.call('spawn', { task: 'the resume', resume_run: first.run_id, wait_s: 50 }));
    expect(resumed.status).toBe('succeeded');
    const own = model.messages().length - before;
    expect(resumed.spent.tokens).toBe(own * TOKENS_PER_REQUEST);
    expect(resumed.spent.usd).toBeCloseTo(own * USD_PER_REQUEST, 9);
  });
});
