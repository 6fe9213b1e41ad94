/** What `runtimes` reports of each runtime; the zod schema is the MCP outputSchema. */
import { z } from 'zod';
import { probeSchema } from './probes.js';
import { BACKENDS, CAPABILITIES, MODEL_TIERS, MONEY_SOURCES, TIERS, type Capability } from './vocabulary.js';

export const runtimeInfoSchema = z.object({
  name: z.string(),
  default: z.boolean(),
  description: z.string().nullable(),
  host: z.string().describe('the adapter'),
  tier: z.enum(TIERS),
  capabilities: z.object(Object.fromEntries(CAPABILITIES.map((name) => [name, z.boolean()])) as Record<Capability, z.ZodBoolean>),
  model: z.string().nullable(),
  model_tiers: z.object(Object.fromEntries(MODEL_TIERS.map((tier) => [tier, z.string().optional()])) as Record<(typeof MODEL_TIERS)[number], z.ZodOptional<z.ZodString>>),
  command: z.string(),
  command_path: z.string().nullable().describe('where the command was found on PATH, or null when it is missing'),
  money: z
    .enum(MONEY_SOURCES)
    .describe("how a run's cost is known, so whether a budget.usd can be held: pricing (fracta.yaml prices its model), reported (its CLI says), built-in (fracta's price table), unknown (a spawn with budget.usd is refused)"),
  probe: probeSchema
    .nullable()
    .describe('for an ACP agent: what it advertised when last probed (fracta runtimes --probe), or null when never probed'),
  env_keys: z.array(z.string()).describe('variables the runtime sets (values are never shown)'),
  backend: z.enum(BACKENDS).describe('where its runs go unless a spawn says otherwise'),
  kubernetes: z
    .object({
      namespace: z.string().nullable(),
      image: z.string().nullable(),
      env: z.array(
        z.object({ name: z.string(), value: z.string().optional(), secret_ref: z.object({ name: z.string(), key: z.string() }).optional() }),
      ),
    })
    .nullable(),
});

export type RuntimeInfo = z.infer<typeof runtimeInfoSchema>;
