/**
 * What a run spent: dollars (null while no cost is known), tokens and agent turns. A run's spend is
 * the sum of its turns'; a tree's, the sum of its runs'.
 */
import type { Usage } from '../events.js';

export interface Spend {
  readonly usd: number | null;
  readonly tokens: number;
  readonly turns: number;
}

export const NO_SPEND: Spend = Object.freeze({ usd: null, tokens: 0, turns: 0 });

/** Every token the provider counts: input, output, and cache reads and writes (billed apart by Anthropic, inside input by OpenAI's counts as hosts report them split). */
export function tokensOf(usage: Usage | undefined | null): number {
  if (!usage) return 0;
  return (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0);
}

/** Dollars to the nano-dollar: far below a cent, and no floating-point dust (0.1 + 0.2) in what a record says. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e9) / 1e9;
}

export function addUsd(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return roundUsd(a + b);
}

export function addSpend(a: Spend, b: Spend): Spend {
  return { usd: addUsd(a.usd, b.usd), tokens: a.tokens + b.tokens, turns: a.turns + b.turns };
}

const USAGE_KEYS = ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const;

/** What was used since `before`, from two running totals; a total below `before` is a new session's, used whole. */
export function usageSince(total: Usage, before: Usage | undefined): Usage {
  if (!before || USAGE_KEYS.some((key) => (total[key] ?? 0) < (before[key] ?? 0))) return total;
  const usage: Usage = {};
  for (const key of USAGE_KEYS) if (total[key] !== undefined) usage[key] = total[key] - (before[key] ?? 0);
  return usage;
}
