/**
 * The raw shape of fracta.yaml. Adapter-specific runtime keys are validated by each adapter's own
 * schema (see host/adapters.ts), so this file knows only what every runtime shares.
 */
import { z } from 'zod';
import { LONGEST_WAIT_S } from '../names.js';
import { isDnsLabel, isDnsSubdomain } from './dns-names.js';
import { meant } from '../did-you-mean.js';

import { APPROVAL_DEFAULTS, ASK_HUMAN, BACKENDS, CLEANUP_POLICIES, DECISIONS } from '../vocabulary.js';

/** A strict object whose unknown keys are reported with the names that are allowed. */
export function strictObject<T extends z.ZodRawShape>(shape: T, noun = 'key') {
  const names = Object.keys(shape);
  const known = names.join(', ') || 'none';
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      // One stray key is most often a typo of a known one: name it.
      const typo = issue.keys.length === 1 ? meant(String(issue.keys[0]), names) : undefined;
      return `unknown ${noun}${typo ? `: did you mean ${typo}?` : ''} (use ${known})`;
    },
  });
}

export function oneOf<T extends readonly [string, ...string[]]>(values: T, what: string) {
  return z.enum(values, { error: () => `unknown ${what} (use ${values.join(', ')})` });
}

const positiveSeconds = z.number({ error: 'must be a number of seconds' }).positive('must be more than 0 seconds');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

const envValue = z
  .union([z.string(), z.number(), z.boolean()], { error: 'must be a string, a number or true/false' })
  .transform((value) => String(value));

const kubernetesEnv = strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a valid environment variable name'),
  value: z.string().optional(),
  secret_ref: strictObject({
    name: z
      .string()
      .max(253, 'must be a valid Secret name (at most 253 characters)')
      .refine(isDnsSubdomain, 'must be a valid Secret name (lowercase, digits, - and .)'),
    key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a valid Secret key'),
  }).optional(),
}).refine((entry) => (entry.value === undefined) !== (entry.secret_ref === undefined), {
  message: 'give exactly one of value or secret_ref',
});

export const kubernetesSchema = strictObject({
  namespace: z.string().refine(isDnsLabel, 'must be a valid namespace (a DNS label: lowercase letters, digits and -, at most 63)').optional(),
  image: z.string().min(1, 'must name a container image').optional(),
  context: z.string().optional(),
  kubeconfig: z.string().optional(),
  in_cluster: z.boolean().optional(),
  request_timeout_s: z.number().positive('must be more than 0 seconds').max(300, 'must be at most 300 seconds').optional(),
  service_account: z.string().optional(),
  resources: z.record(z.string(), z.unknown()).optional(),
  node_selector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(z.record(z.string(), z.unknown())).optional(),
  ttl_seconds_after_finished: z.number().int().nonnegative().optional(),
  env: z
    .array(kubernetesEnv)
    .default([])
    .superRefine((entries, context) => {
      const seen = new Set<string>();
      for (const [index, entry] of entries.entries()) {
        if (seen.has(entry.name)) context.addIssue({ code: 'custom', path: [index, 'name'], message: `"${entry.name}" is given twice; give each variable once` });
        seen.add(entry.name);
      }
    }),
});
export type KubernetesConfig = z.infer<typeof kubernetesSchema>;

/**
 * What happens to a run's permission requests and questions (`agents.approvals`, and per runtime,
 * which wins key by key): rules decide without asking, `default` says what happens to the rest, a
 * request nobody answers within `timeout_s` is decided by `on_timeout` (deny: fail closed).
 */
export const approvalsSchema = strictObject({
  rules: z
    .array(
      strictObject({
        tool: z.string().min(1).describe('a tool name, or Name(pattern) with * matching anything in its command or path, e.g. Bash(git *)'),
        decision: oneOf(DECISIONS, 'decision'),
      }),
    )
    .optional(),
  default: oneOf(APPROVAL_DEFAULTS, 'approval default').optional(),
  timeout_s: positiveSeconds.optional(),
  on_timeout: oneOf(DECISIONS, 'decision').optional(),
  /** Whether a child with fracta over MCP gets the ask_parent tool. */
  ask_parent: z.boolean().optional(),
  /** auto: a request is also put to the person at the root client, when that client can be asked (MCP elicitation). */
  ask_human: oneOf(ASK_HUMAN, 'ask_human').optional(),
});
export type ApprovalsConfig = z.infer<typeof approvalsSchema>;

const amount = (what: string) => z.number({ error: `must be a number (${what})` }).positive(`must be more than 0 (${what})`).refine(Number.isFinite, 'must be a finite number');
const count = (what: string) => z.number({ error: `must be a whole number (${what})` }).int(`must be a whole number (${what})`).min(1, `must be at least 1 (${what})`);

/**
 * What a run and everything it spawns may spend (agents.budget, per runtime, and per spawn, which
 * win key by key): dollars, tokens (input + output + cache, as the provider counts them), agent
 * turns, seconds of wall time from the run's start, and runs started in all (the run itself included).
 */
export const budgetShape = {
  usd: amount('US dollars').optional(),
  tokens: count('tokens').optional(),
  turns: count('agent turns').optional(),
  wall_s: amount('seconds').optional(),
  runs: count('runs, this one included').optional(),
};
export const budgetSchema = strictObject(budgetShape);
export type BudgetConfig = z.infer<typeof budgetSchema>;

/** What a run holds of every budget above it from its start until its real spend is known. */
export const reserveSchema = strictObject({
  usd: z.number({ error: 'must be a number (US dollars)' }).nonnegative('must be 0 or more').optional(),
  tokens: z.number({ error: 'must be a whole number' }).int('must be a whole number').nonnegative('must be 0 or more').optional(),
  turns: z.number({ error: 'must be a whole number' }).int('must be a whole number').nonnegative('must be 0 or more').optional(),
});

/** A model's price in US dollars per million tokens; cache reads and writes default to the input price. */
export const priceSchema = strictObject({
  input: z.number({ error: 'must be US dollars per million input tokens' }).nonnegative('must be 0 or more'),
  output: z.number({ error: 'must be US dollars per million output tokens' }).nonnegative('must be 0 or more'),
  cache_read: z.number().nonnegative('must be 0 or more').optional(),
  cache_write: z.number().nonnegative('must be 0 or more').optional(),
});
export type PriceConfig = z.infer<typeof priceSchema>;

/** Keys every runtime has, whatever its adapter. */
export const runtimeCommonShape = {
  adapter: z.string({ error: 'is required: the host adapter this runtime uses' }),
  description: z.string().optional(),
  model: z.string().min(1).optional(),
  model_tiers: strictObject(
    { heavy: z.string().optional(), medium: z.string().optional(), light: z.string().optional() },
    'tier',
  ).default({}),
  env: z.record(z.string(), envValue).default({}),
  timeout_s: positiveSeconds.optional(),
  idle_timeout_s: positiveSeconds.optional(),
  cleanup: oneOf(CLEANUP_POLICIES, 'cleanup policy').optional(),
  max_concurrent: z.number().int('must be a whole number').min(1, 'must be at least 1').optional(),
  inherit_env: z.array(envName).optional(),
  backend: oneOf(BACKENDS, 'backend').optional(),
  kubernetes: kubernetesSchema.optional(),
  approvals: approvalsSchema.optional(),
  budget: budgetSchema.optional(),
};

export const configSchema = strictObject({
  agents: strictObject({
    default_runtime: z.string().optional(),
    timeout_s: positiveSeconds.default(1800),
    kill_grace_s: z.number().nonnegative('must be 0 or more seconds').default(5),
    session_idle_timeout_s: positiveSeconds.default(600),
    idle_timeout_s: positiveSeconds.optional(),
    max_concurrent: z.number().int('must be a whole number').min(1, 'must be at least 1').default(4),
    max_runtime_concurrent: z.number().int('must be a whole number').min(1, 'must be at least 1').default(2),
    max_depth: z.number().int('must be a whole number').min(1, 'must be at least 1').default(3),
    max_children: z.number().int('must be a whole number').min(1, 'must be at least 1').default(8),
    secret_env: z.array(envName).default([]),
    inherit_env: z.array(envName).optional(),
    workspace: strictObject({
      cleanup: oneOf(CLEANUP_POLICIES, 'cleanup policy').default('keep'),
      allowed_repo_roots: z.array(z.string().min(1)).optional(),
    }).default({
      cleanup: 'keep',
    }),
    approvals: approvalsSchema.default({}),
    budget: strictObject({ ...budgetShape, reserve: reserveSchema.optional() }).default({}),
    mcp: strictObject({
      // Per client name (clientInfo.name from initialize), and `default` for clients fracta does not know.
      wait_ceiling_s: z
        .record(
          z.string().min(1, 'must be a client name (as it says in initialize), or default'),
          positiveSeconds.max(LONGEST_WAIT_S, `must be at most ${LONGEST_WAIT_S} seconds`),
          { error: 'must be a map of client names to seconds, such as { claude-code: 110, default: 50 }' },
        )
        .default({}),
    }).default({ wait_ceiling_s: {} }),
    // Each runtime is checked against its adapter's schema afterwards.
    agent_runtimes: z.record(z.string(), z.record(z.string(), z.unknown()), {
      error: 'must be a map of runtime names to runtime settings',
    }).default({}),
  }).default({
    timeout_s: 1800,
    kill_grace_s: 5,
    session_idle_timeout_s: 600,
    max_concurrent: 4,
    max_runtime_concurrent: 2,
    max_depth: 3,
    max_children: 8,
    secret_env: [],
    workspace: { cleanup: 'keep' },
    approvals: {},
    budget: {},
    mcp: { wait_ceiling_s: {} },
    agent_runtimes: {},
  }),
  /** Prices per model name (as the runtime's model: or the request names it), over fracta's built-in table. */
  pricing: z.record(z.string().min(1), priceSchema, { error: 'must be a map of model names to prices' }).default({}),
});
export type RawConfig = z.infer<typeof configSchema>;
