/** What `runtimes` reports of each runtime; the zod schema is the MCP outputSchema. */
import { z } from 'zod';

export const runtimeInfoSchema = z.object({
  name: z.string(),
  default: z.boolean(),
  description: z.string().nullable(),
  host: z.string().describe('the adapter'),
  tier: z.enum(['Batch', 'Interactive', 'Full-Agent']),
  capabilities: z.object({
    stream: z.boolean(),
    resumeToken: z.boolean(),
    agentMcp: z.boolean(),
    toolPermissions: z.boolean(),
  }),
  model: z.string().nullable(),
  model_tiers: z.object({ heavy: z.string().optional(), medium: z.string().optional(), light: z.string().optional() }),
  command: z.string(),
  command_path: z.string().nullable().describe('where the command was found on PATH, or null when it is missing'),
  env_keys: z.array(z.string()).describe('variables the runtime sets (values are never shown)'),
  backend: z.enum(['local', 'kubernetes']).describe('where its runs go unless a spawn says otherwise'),
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
