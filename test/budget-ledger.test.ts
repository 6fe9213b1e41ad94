/**
 * The tree's ledger on its own (budget/ledger.ts) and the price of a turn (budget/pricing.ts): what
 * a run may hold, what refuses it and how the refusal reads, warnings and exhaustion each once,
 * settlement that counts a run once, deadlines down the tree, a ledger that is not fracta's, and
 * processes racing for the last of a budget.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BudgetLedger } from '../src/budget/ledger.js';
import { BUILTIN_PRICES, costOf, moneySource, turnCost } from '../src/budget/pricing.js';
import { newRunId } from '../src/run-id.js';
import { FractaError } from '../src/errors.js';
import { ROOT } from './helpers/harness.js';

const HOLD = { usd: 0.01, tokens: 1000, turns: 1 };
const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) fs.rmSync(home, { recursive: true, force: true });
});

function ledger(): { ledger: BudgetLedger; home: string } {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-ledger-'));
  homes.push(home);
  return { ledger: new BudgetLedger(home), home };
}

/** The FractaError `work` rejects with; fails the test when it does not reject, or with something else. */
async function rejection(work: Promise<unknown>): Promise<FractaError> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(FractaError);
    return error as FractaError;
  }
  throw new Error('expected a FractaError, but nothing was thrown');
}

const spent = (tokens: number, usd: number | null = null, turns = 1) => ({ usd, tokens, turns });

describe('the budget ledger', () => {
  it('writes nothing for a tree in which no run has a budget', async () => {
    const { ledger: book, home } = ledger();
    const root = newRunId();
    expect(await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: {}, hold: HOLD })).toBeUndefined();
    expect(fs.existsSync(path.join(home, 'budgets', `${root}.json`))).toBe(false);
  });

  it('refuses a child when a budget above it has less left than a run holds, naming the budget, the key and the fix; the refused run is not entered', async () => {
    const { ledger: book } = ledger();
    const root = newRunId();
    await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: { tokens: 2500 }, hold: HOLD });
    const child = newRunId();
    await book.reserve({ runId: child, parentRun: root, rootRun: root, requested: {}, hold: HOLD });
    await book.charge(root, child, spent(1200), true);
    // Used: the root's hold (1000) and the child's 1200: 300 left, less than a hold.
    const error = await rejection(book.reserve({ runId: newRunId(), parentRun: root, rootRun: root, requested: {}, hold: HOLD }));
    expect(error).toBeInstanceOf(FractaError);
    expect((error).code).toBe('budget_exhausted');
    expect((error).field).toBe('budget.tokens');
    expect((error as Error).message).toBe(
      `the tree's budget (run ${root}) allows 2500 tokens and 2200 tokens of it is spent or held by runs still going, less than the 1000 tokens each run holds (agents.budget.reserve.tokens); raise budget.tokens of that spawn, or agents.budget.tokens (or the runtime's budget.tokens) in fracta.yaml; nothing was started`,
    );
    expect(book.view(root, root)!.tree_spent.runs).toBe(2);
  });

  it('gives a child that asks for more than is left what is left, and says so; the child\'s own budget holds its subtree', async () => {
    const { ledger: book } = ledger();
    const root = newRunId();
    await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: { usd: 1 }, hold: HOLD });
    const child = newRunId();
    const given = await book.reserve({ runId: child, parentRun: root, rootRun: root, requested: { usd: 5 }, hold: HOLD });
    expect(given!.limits.usd).toBeCloseTo(0.99, 6);
    expect(given!.warnings[0]).toContain('budget.usd $5.00 is more than is left of the tree\'s budget');
    // A default from fracta.yaml (not asked for by the spawn) is capped as quietly.
    const quiet = await book.reserve({ runId: newRunId(), parentRun: root, rootRun: root, requested: { usd: 5 }, asked: [], hold: HOLD });
    expect(quiet!.limits.usd).toBeCloseTo(0.98, 6);
    expect(quiet!.warnings).toEqual([]);
    const grandchild = newRunId();
    await book.reserve({ runId: grandchild, parentRun: child, rootRun: root, requested: {}, hold: HOLD });
    const crossed = await book.charge(root, grandchild, spent(10, 0.995), false);
    // Past the child's 0.99, not the root's 1: only the child's subtree stops.
    expect(crossed.map((c) => c.budgetRun)).toEqual([child]);
    expect(book.stopReason(root, grandchild)).toContain(`the budget of run ${child} allows $0.9900`);
    expect(book.stopReason(root, root)).toBeUndefined();
  });

  it('warns once at 80% of a limit and exhausts once past it', async () => {
    const { ledger: book } = ledger();
    const root = newRunId();
    await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: { turns: 10 }, hold: HOLD });
    expect(await book.charge(root, root, spent(0, null, 7), false)).toEqual([]);
    expect(book.warningsFor(root, root)).toEqual([]);
    await book.charge(root, root, spent(0, null, 8), false);
    await book.charge(root, root, spent(0, null, 9), false);
    expect(book.warningsFor(root, root)).toEqual([`the tree's budget (run ${root}) is 80% spent: 8 turns of 10 turns`]);
    expect(await book.charge(root, root, spent(0, null, 10), false)).toEqual([]);
    const crossed = await book.charge(root, root, spent(0, null, 11), false);
    expect(crossed).toHaveLength(1);
    expect(await book.charge(root, root, spent(0, null, 12), false)).toEqual([]);
    expect(book.view(root, root)!.budget.exhausted).toContain('allows 10 turns and its runs have spent 11 turns');
  });

  it('counts a run once however often it is settled: by its owner, then by a recovery', async () => {
    const { ledger: book } = ledger();
    const root = newRunId();
    await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: { tokens: 10_000 }, hold: HOLD });
    await book.charge(root, root, spent(3000), true);
    await book.charge(root, root, spent(9000), true);
    await book.settleOrphan(root, root, true);
    expect(book.view(root, root)!.tree_spent.tokens).toBe(3000);
  });

  it('settles an orphan at what it was seen to spend or its hold, and one that never started at nothing', async () => {
    const { ledger: book } = ledger();
    const root = newRunId();
    await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: { tokens: 10_000 }, hold: HOLD });
    const [ran, queued, talked] = [newRunId(), newRunId(), newRunId()];
    for (const id of [ran, queued, talked]) await book.reserve({ runId: id, parentRun: root, rootRun: root, requested: {}, hold: HOLD });
    await book.charge(root, talked, spent(4000), false);
    await book.settleOrphan(root, ran, true);
    await book.settleOrphan(root, queued, false);
    await book.settleOrphan(root, talked, true);
    expect(book.view(root, root)!.tree_spent.tokens).toBe(1000 + 0 + 4000);
  });

  it('runs: counts every run started in the subtree, itself included', async () => {
    const { ledger: book } = ledger();
    const root = newRunId();
    await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: { runs: 3 }, hold: HOLD });
    await book.reserve({ runId: newRunId(), parentRun: root, rootRun: root, requested: {}, hold: HOLD });
    await book.reserve({ runId: newRunId(), parentRun: root, rootRun: root, requested: {}, hold: HOLD });
    const error = (await rejection(book.reserve({ runId: newRunId(), parentRun: root, rootRun: root, requested: {}, hold: HOLD })));
    expect(error.message).toContain('allows 3 runs in all and 3 have started');
    expect(error.field).toBe('budget.runs');
  });

  it('a deadline holds down the tree: a child gets the soonest, and nothing starts once it has passed', async () => {
    const { ledger: book } = ledger();
    const root = newRunId();
    const mine = await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: { wall_s: 0.3 }, hold: HOLD });
    const child = await book.reserve({ runId: newRunId(), parentRun: root, rootRun: root, requested: { wall_s: 3600 }, hold: HOLD });
    expect(child!.deadline).toBe(mine!.deadline);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(book.stopReason(root, root)).toContain('ran out of time');
    const error = (await rejection(book.reserve({ runId: newRunId(), parentRun: root, rootRun: root, requested: {}, hold: HOLD })));
    expect(error.code).toBe('budget_exhausted');
    expect(error.field).toBe('budget.wall_s');
  });

  it('a ledger that is not one fracta wrote (garbage, a link) fails closed with state_corrupt naming it', async () => {
    const { ledger: book, home } = ledger();
    const root = newRunId();
    await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: { tokens: 10 }, hold: HOLD });
    const file = path.join(home, 'budgets', `${root}.json`);
    fs.writeFileSync(file, '{"root": "not a run"}');
    const error = (await rejection(book.reserve({ runId: newRunId(), parentRun: root, rootRun: root, requested: {}, hold: HOLD })));
    expect(error.code).toBe('state_corrupt');
    expect(error.message).toContain(file);
    fs.rmSync(file);
    fs.symlinkSync('/etc/passwd', file);
    expect(((await rejection(book.charge(root, root, spent(1), false)))).code).toBe('state_corrupt');
    fs.rmSync(file);
    // Gone while a run holds a share of it: charging fails closed too.
    expect(((await rejection(book.charge(root, root, spent(1), false)))).message).toContain(`no longer has run ${root}`);
  });

  it('processes racing for the last of a budget: exactly as many as fit get a share', async () => {
    const { ledger: book, home } = ledger();
    const root = newRunId();
    await book.reserve({ runId: root, parentRun: null, rootRun: root, requested: { tokens: 6000 }, hold: HOLD });
    // Twelve processes at once, each holding 1000 of the 5000 left: five get in.
    const script = `
      import { BudgetLedger } from ${JSON.stringify(path.join(ROOT, 'dist/budget/ledger.js'))};
      import { newRunId } from ${JSON.stringify(path.join(ROOT, 'dist/run-id.js'))};
      const book = new BudgetLedger(process.argv[1]);
      book.reserve({ runId: newRunId(), parentRun: process.argv[2], rootRun: process.argv[2], requested: {}, hold: { usd: 0, tokens: 1000, turns: 0 } })
        .then(() => console.log('in'), (error) => console.log(error.code));`;
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () => new Promise<string>((resolve) => execFile(process.execPath, ['--input-type=module', '-e', script, home, root], (_, stdout) => resolve(stdout.trim())))),
    );
    expect(outcomes.filter((outcome) => outcome === 'in')).toHaveLength(5);
    expect(outcomes.filter((outcome) => outcome === 'budget_exhausted')).toHaveLength(7);
    expect(book.view(root, root)!.tree_spent.runs).toBe(6);
  });
});

describe('the price of a turn', () => {
  const usage = { input_tokens: 1_000_000, output_tokens: 100_000, cache_read_input_tokens: 500_000, cache_creation_input_tokens: 200_000 };

  it('prices input, output, cache reads and cache writes per million tokens; cache prices default to the input price', () => {
    expect(costOf(usage, { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 })).toBeCloseTo(3 + 1.5 + 0.15 + 0.75, 6);
    expect(costOf(usage, { input: 1, output: 2 })).toBeCloseTo(1 + 0.2 + 0.5 + 0.2, 6);
  });

  it("the user's price beats the CLI's report, which beats the built-in table; none of them is unknown", () => {
    const pricing = { mine: { input: 1, output: 1 } };
    expect(turnCost({ input_tokens: 1e6 }, 9, 'mine', pricing)).toBe(1);
    expect(turnCost({ input_tokens: 1e6 }, 9, 'sonnet', pricing)).toBe(9);
    expect(turnCost({ input_tokens: 1e6 }, undefined, 'sonnet', pricing)).toBe(BUILTIN_PRICES.sonnet!.input);
    expect(turnCost({ input_tokens: 1e6 }, undefined, 'no-such-model', pricing)).toBeNull();
    expect(moneySource('mine', true, pricing)).toBe('pricing');
    expect(moneySource('sonnet', true, pricing)).toBe('reported');
    expect(moneySource('gpt-5', false, pricing)).toBe('built-in');
    expect(moneySource(undefined, false, pricing)).toBe('unknown');
    expect(moneySource('constructor', false, {})).toBe('unknown');
  });
});
