/**
 * A spawn's budget as planned: what it asks for (the request over its runtime's budget over
 * agents.budget, key by key), what it holds of the budgets above it, and how its money is known.
 */
import { FractaError } from '../errors.js';
import type { FractaConfig, RuntimeConfig } from '../config/runtime.js';
import type { BudgetConfig, PriceConfig } from '../config/schema.js';
import { moneySource } from './pricing.js';
import type { Usage } from '../events.js';
import type { Host } from '../host/host.js';
import type { MoneySource } from '../vocabulary.js';

/** What each run holds of every budget above it until its real spend is known, unless agents.budget.reserve says otherwise. */
export const DEFAULT_RESERVE = Object.freeze({ usd: 0.01, tokens: 1000, turns: 1 });

export interface PlannedBudget {
  /** What the spawn asks for; empty when no budget applies to it (a run above it may still have one). */
  readonly requested: BudgetConfig;
  /** The keys the spawn itself gave (not fracta.yaml's defaults): capping one of them is said as a warning. */
  readonly asked: ReadonlyArray<keyof BudgetConfig>;
  readonly hold: { readonly usd: number; readonly tokens: number; readonly turns: number };
  /** The model its turns are priced by. */
  readonly model: string | undefined;
  readonly money: MoneySource;
  readonly pricing: Readonly<Record<string, PriceConfig>>;
  /** Set for a CLI whose usage is the session's running total: what the session had used before this run (a resume), to count from. */
  readonly sessionTotals: { readonly before: Usage | undefined } | undefined;
}

export function planBudget(
  config: FractaConfig,
  runtime: RuntimeConfig,
  given: BudgetConfig | undefined,
  model: string | undefined,
  host: Pick<Host, 'reportsCost' | 'usageIsSessionTotal'>,
  resumedUsage: Usage | undefined,
): PlannedBudget {
  const requested: BudgetConfig = {};
  for (const layer of [config.budget, runtime.budget ?? {}, given ?? {}]) {
    for (const [key, value] of Object.entries(layer) as Array<[keyof BudgetConfig, number | undefined]>) if (value !== undefined) requested[key] = value;
  }
  const money = moneySource(model, host.reportsCost, config.pricing);
  if (requested.usd !== undefined && money === 'unknown') throw moneyUnknown(runtime.name, model);
  const sessionTotals = host.usageIsSessionTotal ? { before: resumedUsage } : undefined;
  const asked = (Object.keys(given ?? {}) as Array<keyof BudgetConfig>).filter((key) => given![key] !== undefined);
  return { requested, asked, hold: { ...DEFAULT_RESERVE, ...config.reserve }, model, money, pricing: config.pricing, sessionTotals };
}

/** A money budget that cannot be held: nothing tells what the run's turns cost. */
export function moneyUnknown(runtime: string, model: string | undefined): FractaError {
  const fix = model === undefined ? `set the runtime's model: in fracta.yaml and price it under pricing:` : `price it in fracta.yaml (pricing: { ${model}: { input: ..., output: ... } }, US dollars per million tokens)`;
  return new FractaError(
    'capability_missing',
    `budget.usd cannot be enforced for runtime "${runtime}": its CLI reports no cost and fracta has no price for ${model === undefined ? 'its model (none is set)' : `model "${model}"`}; ${fix}, or give a tokens budget instead`,
    'budget.usd',
  );
}
