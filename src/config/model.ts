import type { RuntimeConfig } from './runtime.js';
import type { ModelTier } from '../vocabulary.js';

export interface ModelChoice {
  readonly model: string | undefined;
  readonly warning?: string;
}

/** An explicit model wins; else the runtime's model for the tier; else the runtime's model. */
export function resolveModel(runtime: RuntimeConfig, model: string | undefined, tier: ModelTier | undefined): ModelChoice {
  if (model) return { model };
  if (tier) {
    const tiered = runtime.modelTiers[tier];
    if (tiered) return { model: tiered };
    return {
      model: runtime.model,
      warning: `runtime "${runtime.name}" has no model for tier "${tier}" (model_tiers.${tier} in fracta.yaml); used ${runtime.model ? `its default model ${runtime.model}` : "the CLI's default model"}`,
    };
  }
  return { model: runtime.model };
}
