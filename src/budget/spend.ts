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

/** Dollars summed to the micro-dollar, so that many small turns add up without floating-point dust. */
export function addUsd(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.round((a + b) * 1e6) / 1e6;
}

export function addSpend(a: Spend, b: Spend): Spend {
  return { usd: addUsd(a.usd, b.usd), tokens: a.tokens + b.tokens, turns: a.turns + b.turns };
}
