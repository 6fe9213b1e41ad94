/**
 * The budgets of this process's runs, held against the tree's ledger (budget/ledger.ts): a run
 * reserves its share before it exists, charges what each of its turns spent as the usage comes in
 * (a streamed run), settles its whole spend once as it ends, and is stopped when a budget above it
 * is spent or out of time: at once when a turn of this process spends it, within POLL_MS when a run
 * of another fracta process does (their owners write the ledger, this one reads it).
 */
import { isFractaError } from '../errors.js';
import type { AgentEvent, LoggedEvent, Usage } from '../events.js';
import { BudgetLedger, type Crossed, type Reservation } from '../budget/ledger.js';
import { moneyUnknown } from '../budget/limits.js';
import { turnCost } from '../budget/pricing.js';
import { addSpend, NO_SPEND, tokensOf, usageSince, type Spend } from '../budget/spend.js';
import type { RunRecord } from '../record.js';
import type { SpawnPlan } from '../spawn/plan.js';
import type { Run } from './run.js';

/** How often a process with budgeted runs reads their trees' ledgers for a budget spent elsewhere, or a deadline. */
const POLL_MS = 200;

interface Tracked {
  readonly run: Run;
  readonly reservation: Reservation | undefined;
  spend: Spend;
  /** For a CLI that reports the session's running total: the last total it reported. */
  lastTotal: Usage | undefined;
  /** The budget warnings already in its record. */
  readonly told: Set<string>;
  /** Charges of this run, one after another, so the ledger never gets an older total after a newer one. */
  charging: Promise<void>;
}

export interface BudgetHooks {
  /** The runs of this process that have not ended. */
  active(): Run[];
  /** Stops a run of this process: a budget it is under is spent, or out of time. */
  stop(run: Run, message: string): void;
}

/** What a finished batch run spent, from its result in the record. */
function spendOfRecord(record: RunRecord, plan: SpawnPlan): Spend {
  const turns = record.num_turns ?? (record.usage ? 1 : 0);
  const totals = plan.budget.sessionTotals;
  const usage = record.usage && totals ? usageSince(record.usage, totals.before) : (record.usage ?? undefined);
  const usd = usage || record.cost_usd !== null ? turnCost(usage, record.cost_usd ?? undefined, plan.budget.model, plan.budget.pricing) : null;
  return { usd, tokens: tokensOf(usage), turns };
}

/** What one turn spent, from its usage event (`usage`: the turn's, counted from the session's running total where the CLI reports that). */
function spendOfTurn(event: Extract<AgentEvent, { type: 'usage' }>, usage: Usage, plan: SpawnPlan): Spend {
  return { usd: turnCost(usage, event.cost_usd, plan.budget.model, plan.budget.pricing), tokens: tokensOf(usage), turns: event.turns ?? 1 };
}

/**
 * Whether what a run is known to have spent is all it spent: it succeeded, or its last turn said
 * (a batch run's result, a streamed run that was not stopped mid-turn), or it never started.
 */
function spentWhole(run: Run, record: RunRecord): boolean {
  if (record.status === 'succeeded' || record.started_at === null) return true;
  return run.session ? run.session.awaitingInput : record.usage !== null || record.cost_usd !== null;
}

export class TreeBudgets {
  readonly ledger: BudgetLedger;
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    home: string,
    private readonly hooks: BudgetHooks,
  ) {
    this.ledger = new BudgetLedger(home);
  }

  /** Holds the run's share of every budget above it (refusing with budget_exhausted), before the run exists anywhere. */
  reserve(plan: SpawnPlan): Promise<Reservation | undefined> {
    const { budget, lineage } = plan;
    return this.ledger.reserve({
      runId: plan.runId,
      parentRun: lineage.parentRun,
      rootRun: lineage.rootRun,
      requested: budget.requested,
      asked: budget.asked,
      hold: budget.hold,
      unpriced: budget.money === 'unknown' ? () => moneyUnknown(plan.resolved.runtime.name, budget.model) : undefined,
    });
  }

  /** The run never came to exist (its record could not be written): its share goes back. */
  async release(runId: string, reservation: Reservation | undefined): Promise<void> {
    this.tracked.delete(runId);
    if (reservation) await this.ledger.forget(reservation.rootRun, runId).catch(() => undefined);
  }

  /** Follows the run's spend from now on; returns its first record with its budget in it. */
  track(run: Run, reservation: Reservation | undefined): RunRecord {
    const tracked: Tracked = { run, reservation, spend: NO_SPEND, lastTotal: run.plan.budget.sessionTotals?.before, told: new Set(), charging: Promise.resolve() };
    this.tracked.set(run.runId, tracked);
    run.subscribe((event) => {
      if (event.type === 'usage') this.onUsage(tracked, event);
    });
    if (!reservation) return run.record;
    this.timer ??= setInterval(() => this.poll(), POLL_MS).unref();
    if (reservation.warnings.length > 0) run.record = { ...run.record, warnings: [...run.record.warnings, ...reservation.warnings] };
    return this.withView(run.record, true);
  }

  private onUsage(tracked: Tracked, event: LoggedEvent & { type: 'usage' }): void {
    const { run, reservation } = tracked;
    const totals = run.plan.budget.sessionTotals !== undefined;
    const usage = totals ? usageSince(event.usage, tracked.lastTotal) : event.usage;
    if (totals) tracked.lastTotal = event.usage;
    tracked.spend = addSpend(tracked.spend, spendOfTurn(event, usage, run.plan));
    run.update({ spent: tracked.spend });
    if (!reservation) return;
    const spend = tracked.spend;
    tracked.charging = tracked.charging.then(() => this.charge(tracked, spend, false));
    run.chore(tracked.charging);
  }

  private async charge(tracked: Tracked, spend: Spend, final: boolean, whole = true): Promise<void> {
    const { run, reservation } = tracked;
    let crossed: Crossed;
    try {
      crossed = await this.ledger.charge(reservation!.rootRun, run.runId, spend, final, !whole);
    } catch (error) {
      // A ledger that cannot be read or written cannot hold the budget: fail closed.
      const message = isFractaError(error) ? error.message : String(error);
      if (final) run.record = { ...run.record, warnings: [...run.record.warnings, message] };
      else this.hooks.stop(run, message);
      return;
    }
    this.warn(tracked);
    for (const spent of crossed) {
      this.tell(run, { type: 'budget', level: 'exhausted', message: spent.message });
      this.stopUnder(reservation!.rootRun, spent.budgetRun, spent.message);
    }
  }

  /** Budget warnings new to the run (of its own spend, or of runs elsewhere in its tree): into its record, and to whoever follows it. */
  private warn(tracked: Tracked, data?: Parameters<BudgetLedger['warningsFor']>[2]): void {
    const { run, reservation } = tracked;
    let warnings: string[];
    try {
      warnings = this.ledger.warningsFor(reservation!.rootRun, run.runId, data);
    } catch {
      return; // an unreadable ledger stops the run elsewhere
    }
    for (const warning of warnings) {
      if (tracked.told.has(warning)) continue;
      tracked.told.add(warning);
      run.update({ warnings: [...run.record.warnings, warning] });
      this.tell(run, { type: 'budget', level: 'warning', message: warning });
    }
  }

  /** An event that fracta, not the agent, adds to the run: in its events log (a streamed run) and to whoever follows it. */
  private tell(run: Run, event: AgentEvent): void {
    run.emit(run.session ? run.session.log.append(event) : { ...event, seq: 0, ts: new Date().toISOString() });
  }

  private stopUnder(rootRun: string, budgetRun: string, message: string): void {
    let under: Set<string>;
    try {
      under = new Set(this.ledger.subtree(rootRun, budgetRun));
    } catch {
      under = new Set([...this.tracked.values()].filter((tracked) => tracked.reservation?.rootRun === rootRun).map((tracked) => tracked.run.runId));
    }
    for (const run of this.hooks.active()) if (under.has(run.runId)) this.hooks.stop(run, message);
  }

  /** Budgets spent by runs of other processes, and deadlines: read from each tree's ledger. */
  private poll(): void {
    const byTree = new Map<string, Tracked[]>();
    for (const tracked of this.tracked.values()) {
      if (!tracked.reservation || tracked.run.phase === 'ending' || tracked.run.phase === 'ended') continue;
      const list = byTree.get(tracked.reservation.rootRun) ?? [];
      list.push(tracked);
      byTree.set(tracked.reservation.rootRun, list);
    }
    if (byTree.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    for (const [rootRun, list] of byTree) {
      let data: ReturnType<BudgetLedger['read']>;
      try {
        data = this.ledger.read(rootRun);
      } catch (error) {
        // A ledger that cannot be read cannot hold the budget: fail closed.
        for (const { run } of list) this.hooks.stop(run, isFractaError(error) ? error.message : String(error));
        continue;
      }
      for (const tracked of list) {
        if (!data?.runs[tracked.run.runId]) {
          this.hooks.stop(tracked.run, `the budget ledger of run ${rootRun}'s tree is gone (or no longer has this run), so fracta cannot tell what the tree spent and stops it`);
          continue;
        }
        this.warn(tracked, data);
        const reason = this.ledger.stopReason(rootRun, tracked.run.runId, data);
        if (reason) this.hooks.stop(tracked.run, reason);
      }
    }
  }

  private stopReason(rootRun: string, runId: string): string | undefined {
    try {
      return this.ledger.stopReason(rootRun, runId);
    } catch (error) {
      return isFractaError(error) ? error.message : String(error);
    }
  }

  /** Why a run of this process is to stop for its budget (at shutdown: a budget spent stops the tree, it is not a shutdown). */
  stopMessage(run: Run): string | undefined {
    const reservation = this.tracked.get(run.runId)?.reservation;
    return reservation ? this.stopReason(reservation.rootRun, run.runId) : undefined;
  }

  /**
   * The run's whole spend, settled once in the ledger, and its record with it (and, for a run with
   * a budget of its own, that budget and its tree's spend). A budget this spends stops the runs under it.
   */
  async settle(run: Run, record: RunRecord): Promise<RunRecord> {
    const tracked = this.tracked.get(run.runId);
    this.tracked.delete(run.runId);
    // A streamed run (a batch run over a protocol too) spent what its turns' usage said.
    const spend = tracked && run.session ? tracked.spend : spendOfRecord(record, run.plan);
    run.record = { ...record, spent: spend };
    if (!tracked?.reservation) return run.record;
    await tracked.charging;
    await this.charge(tracked, spend, true, spentWhole(run, record));
    return this.withView(run.record, true);
  }

  /** A record with its budget as the ledger has it now (for a run with a budget of its own; `force`: look even when the record has none yet). */
  withView(record: RunRecord, force = false): RunRecord {
    if (record.budget === null && !force) return record;
    try {
      const view = this.ledger.view(record.root_run || record.run_id, record.run_id);
      return view ? { ...record, ...view } : record;
    } catch {
      return record;
    }
  }
}
