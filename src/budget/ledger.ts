/**
 * The spend of one spawn tree, on disk: `$FRACTA_HOME/budgets/<root run>.json`, shared by every
 * fracta process whose runs are in the tree (a child's fracta is another process). Each run of a
 * tree with a budget has an entry: the limits it was given, what it holds until its spend is known,
 * what it spent so far, and whether that is final. Every change is a read, a check and an atomic
 * rewrite under the tree's mutex, so two processes never both take the last of a budget.
 *
 * What a budget has used is, over the runs of its subtree: the final spend of those that ended, and
 * the larger of hold and spend so far of those that have not. A run starts only when every budget
 * above it has its hold left; it is stopped when a budget it is under is spent past its limit.
 * Settling writes the final spend in place of the running one (a set, not an add), so a run counts
 * once however often it is settled: by its owner, and again by a recovery that found it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DirMutex } from '../dir-mutex.js';
import { FractaError } from '../errors.js';
import { isRunId } from '../run-id.js';
import { MAX_STATE_FILE_BYTES, readStateFileSync } from '../read-bounded.js';
import { addUsd, roundUsd, type Spend } from './spend.js';
import type { BudgetConfig } from '../config/schema.js';

/** The limits of a budget, as a run was given them (absolute: capped by what was left above it). */
export interface Limits {
  readonly usd?: number;
  readonly tokens?: number;
  readonly turns?: number;
  readonly runs?: number;
}

const SPENT_KEYS = ['usd', 'tokens', 'turns'] as const;
type SpentKey = (typeof SPENT_KEYS)[number];

const spendSchema = z.object({ usd: z.number().nullable(), tokens: z.number(), turns: z.number() });
const entrySchema = z.object({
  parent: z.string().refine(isRunId).nullable(),
  limits: z.object({ usd: z.number().optional(), tokens: z.number().optional(), turns: z.number().optional(), runs: z.number().optional() }),
  deadline: z.string().nullable(),
  hold: spendSchema,
  spent: spendSchema,
  settled: z.boolean(),
});
type Entry = z.infer<typeof entrySchema>;
const ledgerSchema = z.object({
  root: z.string().refine(isRunId),
  runs: z.record(z.string().refine(isRunId), entrySchema),
  /** Budgets spent past their limit, by the run they belong to: why. */
  exhausted: z.record(z.string(), z.string()),
  /** Budgets that passed 80% of a limit: by the run they belong to, each limit passed and what was said. */
  warned: z.record(z.string(), z.record(z.string(), z.string())),
});
type LedgerData = z.infer<typeof ledgerSchema>;

/** How much of a limit is spent when the tree is warned. */
export const WARN_AT = 0.8;

/** What a run holds of each budget above it until its spend is known. */
export interface Hold {
  readonly usd: number;
  readonly tokens: number;
  readonly turns: number;
}

/** What a run is given at its start. */
export interface Reservation {
  readonly rootRun: string;
  /** The run's own limits (what it asked for, capped by what is left above it); empty when it set none. */
  readonly limits: Limits;
  /** When the run (and everything under it) must end, the soonest of its own and its ancestors'. */
  readonly deadline: string | null;
  /** What the run asked for that was more than was left above it. */
  readonly warnings: readonly string[];
}

/** Budgets that charging a run's spend took past their limit: the run of each budget, and why. */
export type Crossed = ReadonlyArray<{ readonly budgetRun: string; readonly message: string }>;

/** A budget's state, for the records: its limits, what its tree spent, and what is left. */
export interface BudgetView {
  readonly usd: number | null;
  readonly tokens: number | null;
  readonly turns: number | null;
  readonly runs: number | null;
  readonly deadline: string | null;
  readonly left: { readonly usd: number | null; readonly tokens: number | null; readonly turns: number | null; readonly runs: number | null };
  readonly exhausted: string | null;
}

export interface TreeSpend {
  readonly usd: number | null;
  readonly tokens: number;
  readonly turns: number;
  readonly runs: number;
}

const FIELD: Record<SpentKey | 'runs', string> = { usd: 'budget.usd', tokens: 'budget.tokens', turns: 'budget.turns', runs: 'budget.runs' };

function show(key: SpentKey | 'runs', value: number): string {
  if (key === 'usd') return `$${value.toFixed(value < 1 ? 4 : 2)}`;
  return `${value} ${key}`;
}

function whereToRaise(key: SpentKey | 'runs' | 'wall_s'): string {
  return `raise budget.${key} of that spawn, or agents.budget.${key} (or the runtime's budget.${key}) in fracta.yaml`;
}

export class BudgetLedger {
  private readonly dir: string;

  constructor(home: string) {
    this.dir = path.join(home, 'budgets');
  }

  private file(rootRun: string): string {
    return path.join(this.dir, `${rootRun}.json`);
  }

  private mutex(rootRun: string): DirMutex {
    return new DirMutex(path.join(this.dir, `${rootRun}.lock`), 'the budget mutex');
  }

  /** Whether the tree of `rootRun` has a ledger (some run of it has a budget). */
  has(rootRun: string): boolean {
    return fs.existsSync(this.file(rootRun));
  }

  /** The tree's ledger; undefined when it has none. Anything but a ledger fracta wrote is state_corrupt: fail closed. */
  read(rootRun: string): LedgerData | undefined {
    const file = this.file(rootRun);
    let text: string;
    try {
      text = readStateFileSync(file, MAX_STATE_FILE_BYTES);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.corrupt(file, (error as Error).message);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw this.corrupt(file, 'not JSON');
    }
    const parsed = ledgerSchema.safeParse(raw);
    if (!parsed.success || parsed.data.root !== rootRun) throw this.corrupt(file, 'not a ledger fracta wrote');
    return parsed.data;
  }

  private corrupt(file: string, why: string): FractaError {
    return new FractaError('state_corrupt', `the budget ledger ${file} cannot be used (${why}), so fracta cannot tell what its tree spent and starts nothing more in it: look at it, or remove it to start the tree's accounting afresh`);
  }

  private write(data: LedgerData): void {
    const file = this.file(data.root);
    // A fresh name, created exclusively: whatever a child put in its place is never written through.
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(temporary, JSON.stringify(data), { mode: 0o600, flag: 'wx' });
      fs.renameSync(temporary, file);
    } catch (error) {
      fs.rmSync(temporary, { force: true });
      throw new FractaError((error as NodeJS.ErrnoException).code === 'ENOSPC' ? 'disk_full' : 'state_corrupt', `fracta could not write the budget ledger ${file} (${(error as Error).message})`);
    }
  }

  private async change<T>(rootRun: string, fn: (data: LedgerData | undefined) => { data?: LedgerData; value: T }): Promise<T> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    return this.mutex(rootRun).run(() => {
      const result = fn(this.read(rootRun));
      if (result.data) this.write(result.data);
      return result.value;
    });
  }

  /**
   * Enters a new run of the tree, holding `hold` of every budget above it; undefined when neither it
   * nor any run above it has a budget (nothing is written). Refuses with budget_exhausted, before the
   * run exists anywhere, when a budget above it has less than that left, is spent, or is past its deadline.
   */
  reserve(input: {
    readonly runId: string;
    readonly parentRun: string | null;
    readonly rootRun: string;
    readonly requested: BudgetConfig;
    /** The keys of `requested` the spawn itself gave: capping one of those is said as a warning (a default is capped quietly). */
    readonly asked?: readonly string[];
    readonly hold: Hold;
    /** Set when nothing tells what the run's turns cost: the refusal, should a money budget be over it. */
    readonly unpriced?: (() => FractaError) | undefined;
  }): Promise<Reservation | undefined> {
    const { runId, parentRun, rootRun, requested, hold } = input;
    const asks = Object.values(requested).some((value) => value !== undefined);
    // A root spawn starts a new tree: no ledger can have it yet.
    if (!asks && (parentRun === null || !this.has(rootRun))) return Promise.resolve(undefined);
    return this.change(rootRun, (found) => {
      const data: LedgerData = found ?? { root: rootRun, runs: {}, exhausted: {}, warned: {} };
      const above = parentRun ? chainOf(data, parentRun) : [];
      const budgeted = above.filter((id) => hasBudget(data.runs[id]!));
      if (!asks && budgeted.length === 0) return { value: undefined };
      if (input.unpriced && budgeted.some((id) => data.runs[id]!.limits.usd !== undefined)) throw input.unpriced();
      const now = Date.now();
      const limits: { -readonly [K in keyof Limits]: number } = {};
      const warnings: string[] = [];
      let deadline = requested.wall_s === undefined ? null : new Date(now + requested.wall_s * 1000).toISOString();
      for (const key of [...SPENT_KEYS, 'runs'] as const) if (requested[key] !== undefined) limits[key] = requested[key];
      for (const id of budgeted) {
        const entry = data.runs[id]!;
        const who = id === rootRun ? `the tree's budget (run ${id})` : `the budget of run ${id}`;
        if (data.exhausted[id]) throw exhausted(`${who} is spent: ${data.exhausted[id]}`, 'budget');
        if (entry.deadline && Date.parse(entry.deadline) <= now) throw exhausted(`${who} ran out of time at ${entry.deadline} (its wall_s); ${whereToRaise('wall_s')}`, 'budget.wall_s');
        if (entry.deadline && (deadline === null || entry.deadline < deadline)) deadline = entry.deadline;
        const used = usedBy(data, id);
        for (const key of SPENT_KEYS) {
          const limit = entry.limits[key];
          if (limit === undefined) continue;
          const left = limit - used[key];
          if (left <= 0 || left < hold[key]) {
            throw exhausted(
              `${who} allows ${show(key, limit)} and ${show(key, used[key])} of it is spent or held by runs still going${left > 0 ? `, less than the ${show(key, hold[key])} each run holds (agents.budget.reserve.${key})` : ''}; ${whereToRaise(key)}`,
              FIELD[key],
            );
          }
          if (limits[key] !== undefined && limits[key] > left) {
            if (input.asked?.includes(key) !== false) warnings.push(`budget.${key} ${show(key, limits[key])} is more than is left of ${who} (${show(key, left)}): this run has ${show(key, left)}`);
            limits[key] = left;
          }
        }
        const runs = entry.limits.runs;
        if (runs !== undefined) {
          const started = subtreeOf(data, id).length;
          if (started + 1 > runs) throw exhausted(`${who} allows ${runs} runs in all and ${started} have started; ${whereToRaise('runs')}`, FIELD.runs);
          if (limits.runs !== undefined && limits.runs > runs - started) limits.runs = runs - started;
        }
      }
      // A run's own hold never exceeds its own limits: a budget smaller than the reserve is still a budget.
      const ownHold = { usd: Math.min(hold.usd, limits.usd ?? Infinity), tokens: Math.min(hold.tokens, limits.tokens ?? Infinity), turns: Math.min(hold.turns, limits.turns ?? Infinity) };
      data.runs[runId] = { parent: parentRun, limits, deadline, hold: ownHold, spent: { usd: null, tokens: 0, turns: 0 }, settled: false };
      return { data, value: { rootRun, limits, deadline, warnings } };
    });
  }

  /** Takes a run out of the ledger that never came to exist (its record could not be written). */
  forget(rootRun: string, runId: string): Promise<void> {
    return this.change(rootRun, (data) => {
      if (!data?.runs[runId]) return { value: undefined };
      delete data.runs[runId];
      return { data, value: undefined };
    });
  }

  /**
   * Writes what a run has spent so far (`final`: all it spent, settled for good; `atLeastHold`: it
   * ended without saying all it spent, so it counts at least as its hold), and says which budgets
   * above it that pushed past their limit, each once (and notes those past 80%).
   */
  charge(rootRun: string, runId: string, spent: Spend, final: boolean, atLeastHold = false): Promise<Crossed> {
    return this.change(rootRun, (data) => {
      // A ledger (or an entry) that went away while the run holds a share of it: fail closed.
      if (!data || !data.runs[runId]) throw this.corrupt(this.file(rootRun), `it no longer has run ${runId}`);
      const entry = data.runs[runId];
      // Settled already (by its owner, or by a recovery): its spend is final and counted.
      if (entry.settled) return { value: [] };
      entry.spent = atLeastHold ? atLeast(spent, entry.hold) : { ...spent };
      entry.settled = final;
      return { data, value: crossings(data, runId) };
    });
  }

  /**
   * Settles a run whose fracta died: one that never started spent nothing; one that ran, what it was
   * seen to spend, or its hold where that is more (what it spent after its last usage is unknown).
   */
  settleOrphan(rootRun: string, runId: string, started: boolean): Promise<void> {
    return this.change(rootRun, (data) => {
      const entry = data?.runs[runId];
      if (!data || !entry || entry.settled) return { value: undefined };
      if (started) entry.spent = atLeast(entry.spent, entry.hold);
      entry.settled = true;
      crossings(data, runId);
      return { data, value: undefined };
    });
  }

  /** Why a run must stop now (a budget above it is spent, or its deadline passed), or undefined. */
  stopReason(rootRun: string, runId: string, data = this.read(rootRun)): string | undefined {
    if (!data?.runs[runId]) return undefined;
    for (const id of chainOf(data, runId)) {
      if (data.exhausted[id]) return data.exhausted[id];
      const deadline = data.runs[id]!.deadline;
      if (deadline && Date.parse(deadline) <= Date.now()) return wallMessage(id, rootRun, deadline);
    }
    return undefined;
  }

  /** What was said of the budgets above a run as they passed 80% of a limit, oldest first. */
  warningsFor(rootRun: string, runId: string, data = this.read(rootRun)): string[] {
    if (!data?.runs[runId]) return [];
    return chainOf(data, runId).flatMap((id) => Object.values(data.warned[id] ?? {}));
  }

  /** The runs in the subtree of `budgetRun` (itself included). */
  subtree(rootRun: string, budgetRun: string): string[] {
    const data = this.read(rootRun);
    return data ? subtreeOf(data, budgetRun) : [];
  }

  /** A run's budget and its tree's spend, for its record; undefined for a run without its own budget. */
  view(rootRun: string, runId: string): { budget: BudgetView; tree_spent: TreeSpend } | undefined {
    const data = this.read(rootRun);
    const entry = data?.runs[runId];
    if (!data || !entry || !hasBudget(entry)) return undefined;
    const subtree = subtreeOf(data, runId);
    let usd: number | null = null;
    let tokens = 0;
    let turns = 0;
    for (const id of subtree) {
      const spent = data.runs[id]!.spent;
      usd = addUsd(usd, spent.usd);
      tokens += spent.tokens;
      turns += spent.turns;
    }
    const used = usedBy(data, runId);
    const left = (key: SpentKey) => (entry.limits[key] === undefined ? null : Math.max(0, round(entry.limits[key] - used[key])));
    return {
      budget: {
        usd: entry.limits.usd ?? null,
        tokens: entry.limits.tokens ?? null,
        turns: entry.limits.turns ?? null,
        runs: entry.limits.runs ?? null,
        deadline: entry.deadline,
        left: { usd: left('usd'), tokens: left('tokens'), turns: left('turns'), runs: entry.limits.runs === undefined ? null : Math.max(0, entry.limits.runs - subtree.length) },
        exhausted: data.exhausted[runId] ?? null,
      },
      tree_spent: { usd, tokens, turns, runs: subtree.length },
    };
  }
}

/** A spend that is not known to be whole counts at least as the run's hold. */
function atLeast(spent: Spend, hold: z.infer<typeof spendSchema>): Spend {
  return { usd: Math.max(hold.usd ?? 0, spent.usd ?? 0), tokens: Math.max(hold.tokens, spent.tokens), turns: Math.max(hold.turns, spent.turns) };
}

const round = roundUsd;

function exhausted(message: string, field: string): FractaError {
  return new FractaError('budget_exhausted', `${message}; nothing was started`, field);
}

export function wallMessage(budgetRun: string, rootRun: string, deadline: string): string {
  const who = budgetRun === rootRun ? `the tree's budget (run ${budgetRun})` : `the budget of run ${budgetRun}`;
  return `${who} ran out of time at ${deadline} (its wall_s); ${whereToRaise('wall_s')}`;
}

function hasBudget(entry: Entry): boolean {
  return Object.keys(entry.limits).length > 0 || entry.deadline !== null;
}

/** The run and its ancestors in the ledger, nearest first (bounded: a forged loop of parents ends). */
function chainOf(data: LedgerData, runId: string): string[] {
  const chain: string[] = [];
  for (let id: string | null = runId; id && data.runs[id] && chain.length < 64 && !chain.includes(id); id = data.runs[id]!.parent) chain.push(id);
  return chain;
}

function subtreeOf(data: LedgerData, runId: string): string[] {
  return Object.keys(data.runs).filter((id) => chainOf(data, id).includes(runId));
}

/** What a budget has used: final spend of the runs that ended, the larger of hold and spend of the rest. */
function usedBy(data: LedgerData, budgetRun: string): Record<SpentKey, number> {
  const used = { usd: 0, tokens: 0, turns: 0 };
  for (const id of subtreeOf(data, budgetRun)) {
    const { spent, hold, settled } = data.runs[id]!;
    used.usd += settled ? (spent.usd ?? 0) : Math.max(spent.usd ?? 0, hold.usd ?? 0);
    used.tokens += settled ? spent.tokens : Math.max(spent.tokens, hold.tokens);
    used.turns += settled ? spent.turns : Math.max(spent.turns, hold.turns);
  }
  return { usd: round(used.usd), tokens: used.tokens, turns: used.turns };
}

/** What the budgets above `runId` have spent for real, and which of them that takes past 80% or 100%. */
function crossings(data: LedgerData, runId: string): Crossed {
  const out: Array<{ budgetRun: string; message: string }> = [];
  for (const id of chainOf(data, runId)) {
    const entry = data.runs[id]!;
    if (!hasBudget(entry) || data.exhausted[id]) continue;
    const spent = { usd: 0, tokens: 0, turns: 0 };
    for (const member of subtreeOf(data, id)) {
      const own = data.runs[member]!.spent;
      spent.usd += own.usd ?? 0;
      spent.tokens += own.tokens;
      spent.turns += own.turns;
    }
    spent.usd = round(spent.usd);
    const who = id === data.root ? `the tree's budget (run ${id})` : `the budget of run ${id}`;
    for (const key of SPENT_KEYS) {
      const limit = entry.limits[key];
      if (limit === undefined) continue;
      if (spent[key] > limit) {
        const message = `${who} allows ${show(key, limit)} and its runs have spent ${show(key, spent[key])}; ${whereToRaise(key)}`;
        data.exhausted[id] = message;
        out.push({ budgetRun: id, message });
        break;
      }
      const warned = (data.warned[id] ??= {});
      if (spent[key] >= WARN_AT * limit && warned[key] === undefined) {
        warned[key] = `${who} is ${Math.floor((spent[key] / limit) * 100)}% spent: ${show(key, spent[key])} of ${show(key, limit)}`;
      }
    }
  }
  return out;
}
