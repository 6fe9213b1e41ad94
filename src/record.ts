/**
 * A run record: the stable, snake_case shape that clients script against, on disk and in MCP results.
 * The zod schema is the MCP outputSchema too, so the two cannot drift apart.
 */
import { z } from 'zod';
import { isRunId } from './run-id.js';
import { ANSWER_SCOPES, BACKENDS, CLEANUP_POLICIES, DECISIONS, RECORD_WORKSPACE_MODES, REQUEST_KINDS, TIERS } from './vocabulary.js';

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted']);

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export const errorSchema = z.object({ code: z.string(), message: z.string() });

export const usageSchema = z.object({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  cache_read_input_tokens: z.number().optional(),
  cache_creation_input_tokens: z.number().optional(),
});

export const spentSchema = z.object({
  usd: z.number().nullable().describe('US dollars, as the CLI reports them or as the price table gives them; null when neither knows'),
  tokens: z.number().describe('input + output + cache tokens'),
  turns: z.number().describe("the agent's turns (model round trips, as its CLI counts them)"),
});

const limit = (what: string) => z.number().nullable().describe(what);
export const budgetViewSchema = z.object({
  usd: limit('US dollars, or null for no money limit'),
  tokens: limit('tokens, or null'),
  turns: limit('agent turns, or null'),
  runs: limit('runs started in all (this one included), or null'),
  deadline: z.string().nullable().describe('when the run and every run under it are stopped (wall_s), or null'),
  left: z.object({ usd: z.number().nullable(), tokens: z.number().nullable(), turns: z.number().nullable(), runs: z.number().nullable() }).describe('what is left: limits less what is spent and what runs still going hold'),
  exhausted: z.string().nullable().describe('why the budget is spent, once it is'),
});

export const treeSpentSchema = z.object({ usd: z.number().nullable(), tokens: z.number(), turns: z.number(), runs: z.number() });

/** What a run asks whoever is above it, while nobody has decided it. Text from the child is data: masked, bounded. */
export const pendingRequestSchema = z.object({
  request_id: z.string(),
  kind: z.enum(REQUEST_KINDS),
  tool: z.string().nullable().describe('for a permission request: the tool the agent wants to use'),
  input: z.string().nullable().describe("for a permission request: the tool's input, shortened"),
  question: z.string().nullable().describe('for a question: what the agent asks'),
  chain: z.array(z.string().refine(isRunId, 'must be a run id')).max(64).describe('the runs from the root of the tree down to the one asking'),
  asked_at: z.string(),
  expires_at: z.string().describe('when nobody has answered by then, the approvals timeout decides (deny unless configured)'),
});
export type PendingRequest = z.infer<typeof pendingRequestSchema>;

/** How a request was decided: by a policy rule, a run of the chain above, the user, the person at the client, or the timeout. */
export const answerSchema = z.object({
  decision: z.enum(DECISIONS),
  message: z.string().nullable().describe("the answer's text (a question's answer)"),
  scope: z.enum(ANSWER_SCOPES),
  decided_by: z.string().describe('policy rule …, policy default …, run <id>, user, human, or timeout'),
  decided_at: z.string(),
});
export type Answer = z.infer<typeof answerSchema>;

/** A request as decided. */
export const decidedRequestSchema = pendingRequestSchema.extend(answerSchema.shape);
export type DecidedRequest = z.infer<typeof decidedRequestSchema>;

export const runRecordSchema = z.object({
  run_id: z.string(),
  status: z.enum(RUN_STATUSES),
  runtime: z.string(),
  host: z.string().describe('the adapter that ran it'),
  tier: z.enum(TIERS).describe("the host's capability tier"),
  model: z.string().nullable(),
  model_tier: z.string().nullable().describe('the model tier asked for (heavy, medium, light), if any'),
  task_preview: z.string().describe('the start of the task'),
  task_bytes: z.number(),
  output: z.string().nullable().describe("the agent's final text, bounded; the whole output is at log_uri"),
  output_bytes: z.number().nullable().describe('full length of the output'),
  output_truncated: z.boolean(),
  error: errorSchema.nullable(),
  resume_token: z.string().nullable(),
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
  cost_usd: z.number().nullable(),
  usage: usageSchema.nullable(),
  num_turns: z.number().nullable(),
  workspace: z.string(),
  workspace_removed: z.boolean(),
  cleanup: z.enum(CLEANUP_POLICIES),
  log_uri: z.string(),
  stdout_path: z.string(),
  stderr_path: z.string(),
  argv: z.array(z.string()).describe('the command line run, secrets masked, long arguments shortened'),
  pid: z.number().nullable().describe("the child's process (and process group) id"),
  owner_pid: z.number().describe('the fracta process that runs it'),
  timeout_s: z.number(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  ended_at: z.string().nullable(),
  warnings: z.array(z.string()),
  // Fields added after the first release have defaults, so records written before them still read.
  parent_run: z.string().nullable().default(null).describe('the run whose agent spawned this one (agent_mcp), if any'),
  root_run: z.string().default('').describe('the first run of the chain this one belongs to'),
  depth: z.number().default(1).describe("1 for a spawn from a client, 2 for one made by that run's agent, ..."),
  children: z.array(z.string()).default([]).describe('runs this run spawned (agent_mcp), oldest first'),
  resumed_from: z.string().nullable().default(null).describe('the run whose session this one continues'),
  stream: z.boolean().default(false).describe('a live session that takes follow-up messages (send) until closed'),
  awaiting_input: z.boolean().default(false).describe('a live session whose last turn is done: send the next message, or close it'),
  turns_done: z.number().default(0).describe('turns finished in a live session'),
  events_path: z.string().nullable().default(null).describe('the normalized events of a streamed run (JSONL)'),
  workspace_mode: z.enum(RECORD_WORKSPACE_MODES).default('fresh').describe('what the workspace is: a fresh folder, a git worktree of repo, a copy, the checkout itself, or the workspace of the run resumed'),
  git: z
    .object({
      repo: z.string(),
      branch: z.string().nullable(),
      base_branch: z.string().nullable(),
      base_commit: z.string().nullable(),
      commits: z.array(z.object({ sha: z.string(), subject: z.string() })),
      uncommitted: z.array(z.object({ status: z.string(), path: z.string() })),
      diff: z.object({
        files: z.array(z.object({ path: z.string(), insertions: z.number().nullable(), deletions: z.number().nullable() })),
        insertions: z.number(),
        deletions: z.number(),
      }),
      branch_kept: z.boolean().nullable().describe('after cleanup: the branch was kept because it holds commits'),
    })
    .nullable()
    .default(null)
    .describe('for a run on a repository: its branch, the commits the agent made, what it left uncommitted, and a diff summary against the base'),
  owner_started: z.number().nullable().default(null).describe('start time of the fracta process that runs it (to tell a reused pid apart)'),
  backend: z.enum(BACKENDS).default('local').describe('where its process ran: this machine, or a Job on a cluster'),
  kubernetes: z
    .object({ namespace: z.string(), job: z.string(), context: z.string().nullable() })
    .nullable()
    .default(null)
    .describe('for a run on the kubernetes backend: its Job (with the kubeconfig context used)'),
  needs_input: z.boolean().default(false).describe('the run waits for a decision: see pending_requests, and decide each with answer'),
  pending_requests: z.array(pendingRequestSchema).default([]).describe("the run's permission requests and questions nobody has decided yet"),
  requests: z.array(decidedRequestSchema).default([]).describe('the requests decided so far, with who decided them'),
  spent: spentSchema.default({ usd: null, tokens: 0, turns: 0 }).describe('what this run spent (usd null: no cost known for its model)'),
  budget: budgetViewSchema.nullable().default(null).describe("this run's own budget (root: the tree's), with what is left of it"),
  tree_spent: treeSpentSchema.nullable().default(null).describe('for a run with its own budget: what it and every run under it spent, and how many runs they are'),
});

export type RunRecord = z.infer<typeof runRecordSchema>;
