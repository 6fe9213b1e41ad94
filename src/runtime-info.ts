/** What `runtimes` reports of each runtime; the zod schema is the MCP outputSchema. */
import { z } from 'zod';
import { BACKENDS, CAPABILITIES, MODEL_TIERS, TIERS, type Capability } from './vocabulary.js';

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
