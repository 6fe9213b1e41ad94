/**
 * What a turn costs. Where the user priced a model in fracta.yaml (`pricing:`), that price wins (it
 * is their contract); else a cost the CLI reports itself (claude's total_cost_usd); else fracta's
 * built-in table. With none of these, a money budget cannot be enforced for the model, and a spawn
 * with one is refused before it starts.
 */
import type { Usage } from '../events.js';
import type { PriceConfig } from '../config/schema.js';
import type { MoneySource } from '../vocabulary.js';
import { roundUsd } from './spend.js';

/**
 * When the built-in prices were last checked. The Claude prices were checked against what claude
 * 2.1.197 itself computes for these models (its total_cost_usd); the others are the providers'
 * published list prices for prompts under 200k tokens, which could not be checked offline.
 */
export const BUILTIN_PRICES_CHECKED = '2026-12-04';

const claude = (input: number, output: number): PriceConfig => ({ input, output, cache_read: input / 10, cache_write: input * 1.25 });

/** US dollars per million tokens, by the model names (and claude's aliases) the built-in runtimes use. */
export const BUILTIN_PRICES: Readonly<Record<string, PriceConfig>> = {
  opus: claude(5, 25),
  'claude-opus-4-5': claude(5, 25),
  sonnet: claude(3, 15),
  'claude-sonnet-4-5': claude(3, 15),
  haiku: claude(1, 5),
  'claude-haiku-4-5': claude(1, 5),
  'gpt-5': { input: 1.25, output: 10, cache_read: 0.125 },
  'gpt-5-codex': { input: 1.25, output: 10, cache_read: 0.125 },
  'gpt-5-mini': { input: 0.25, output: 2, cache_read: 0.025 },
  'gemini-2.5-pro': { input: 1.25, output: 10, cache_read: 0.125 },
  'gemini-2.5-flash': { input: 0.3, output: 2.5, cache_read: 0.03 },
};


export function userPrice(model: string | undefined, pricing: Readonly<Record<string, PriceConfig>>): PriceConfig | undefined {
  return model === undefined ? undefined : Object.hasOwn(pricing, model) ? pricing[model] : undefined;
}

export function builtinPrice(model: string | undefined): PriceConfig | undefined {
  return model === undefined ? undefined : Object.hasOwn(BUILTIN_PRICES, model) ? BUILTIN_PRICES[model] : undefined;
}

export function moneySource(model: string | undefined, reportsCost: boolean, pricing: Readonly<Record<string, PriceConfig>>): MoneySource {
  if (userPrice(model, pricing)) return 'pricing';
  if (reportsCost) return 'reported';
  return builtinPrice(model) ? 'built-in' : 'unknown';
}

/** The price of `usage` in dollars. */
export function costOf(usage: Usage, price: PriceConfig): number {
  const perToken = (perMillion: number) => perMillion / 1e6;
  const usd =
    (usage.input_tokens ?? 0) * perToken(price.input) +
    (usage.output_tokens ?? 0) * perToken(price.output) +
    (usage.cache_read_input_tokens ?? 0) * perToken(price.cache_read ?? price.input) +
    (usage.cache_creation_input_tokens ?? 0) * perToken(price.cache_write ?? price.input);
  return roundUsd(usd);
}

/** What a turn cost, by the rule above; null when it cannot be known. */
export function turnCost(usage: Usage | undefined, reportedUsd: number | undefined, model: string | undefined, pricing: Readonly<Record<string, PriceConfig>>): number | null {
  const own = userPrice(model, pricing);
  if (own) return usage ? costOf(usage, own) : null;
  if (reportedUsd !== undefined) return reportedUsd;
  const builtin = builtinPrice(model);
  return builtin && usage ? costOf(usage, builtin) : null;
}
