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
import { alive, claudeRuntime, CLI, connectServer, killQuietly, onCleanup, runCleanups, runCli, startServer, structured, until, type RecordContent, type Server } from './helpers/harness.js';
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
    const record = structured(await server.call('spawn', { task: 'price this', budget: { usd: 1 }, wait_s: 50 }));
    expect(record.status).toBe('succeeded');
    const requests = model.messages().length;
    expect(requests).toBeGreaterThan(0);
    expect(record.spent.tokens).toBe(requests * TOKENS_PER_REQUEST);
    expect(record.spent.usd).toBeCloseTo(requests * USD_PER_REQUEST, 6);
    expect(record.budget).toMatchObject({ usd: 1, tokens: null });
    expect(record.budget.left.usd).toBeCloseTo(1 - requests * USD_PER_REQUEST, 6);
    expect(record.tree_spent).toMatchObject({ tokens: requests * TOKENS_PER_REQUEST, runs: 1 });
    const entry = ledgerOf(server, record.run_id).runs[record.run_id];
    expect(entry).toMatchObject({ settled: true, spent: { tokens: requests * TOKENS_PER_REQUEST } });
    // The CLI says it too: the runs list has a cost column, status the budget.
    const runs = await runCli(['runs', '--config', server.sandbox.configPath], { env: server.sandbox.env });
    expect(runs.stdout).toMatch(/COST/);
    expect(runs.stdout).toContain(`$${(requests * USD_PER_REQUEST).toFixed(4)}`);
  });
});
