/**
 * What callers may ask for, as zod schemas shared by the MCP tools (their inputSchema) and the CLI.
 * Parsing failures become one clear sentence per field, with a stable code.
 */
import { z } from 'zod';
import { budgetSchema, oneOf, strictObject } from './config/schema.js';
import { ANSWER_SCOPES, BACKENDS, CLEANUP_POLICIES, DECISIONS, MODEL_TIERS, WAIT_MODES, WORKSPACE_MODES } from './vocabulary.js';
import { formatIssues } from './config/errors.js';
import { FractaError } from './errors.js';
import { RUN_STATUSES } from './record.js';
import { DEFAULT_WAIT_S, LONGEST_WAIT_S } from './names.js';


/** Seconds, from `min` (exclusive when `positive`) to `max`, with one message for any bad value. */
const seconds = (range: { positive: boolean; max?: number; hint?: string }) => {
  const bounds =
    range.max !== undefined ? `from ${range.positive ? 'just over ' : ''}0 to ${range.max}` : range.positive ? 'more than 0' : '0 or more';
  const message = `must be ${bounds} seconds${range.hint ? `; ${range.hint}` : ''}`;
  return z
    .number({ error: 'must be a number of seconds' })
    .refine((value) => Number.isFinite(value) && (range.positive ? value > 0 : value >= 0) && (range.max === undefined || value <= range.max), {
      message,
    });
};

/**
 * A value that fracta puts on an agent's command line (a model, a tool, a session id, a branch).
 * The caller is a model that may be prompt-injected, so nothing it gives may be read as an option by
 * the CLI: no valid value starts with "-", or holds a control character (a newline would end a
 * line in a config file). Bounded, because each value is kept in the run record's argv.
 */
const cliValue = (what: string, maxChars: number) =>
  z
    .string({ error: `must be ${what}` })
    .min(1, `must not be empty: give ${what}`)
    .max(maxChars, `must be at most ${maxChars} characters`)
    .refine((value) => !value.startsWith('-'), `must not start with "-" (it would be read as an option of the agent's CLI): give ${what}`)
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'must not hold control characters (newlines, tabs, NUL)');

/** Enough for any real allow-list; each entry is an argument of the child's command line. */
export const MAX_ALLOWED_TOOLS = 256;

export const spawnRequestSchema = strictObject({
  task: z
    .string({ error: 'is required: say what the agent should do' })
    .refine((task) => task.trim().length > 0, 'must not be empty: say what the agent should do')
    .describe('What the agent should do. Sent to the CLI as its prompt (on stdin where it allows).'),
  runtime: z.string().min(1).optional().describe('A runtime from fracta.yaml (see the runtimes tool); default: the configured default.'),
  model: cliValue('a model name', 256).optional().describe("The model; overrides the tier and the runtime's default."),
  tier: oneOf(MODEL_TIERS, 'tier').optional().describe("Pick the runtime's model for this tier."),
  contract: z.string().optional().describe('What "done" means: acceptance criteria written to the task file and the prompt.'),
  allowed_tools: z
    .array(cliValue('a tool name or rule', 512), { error: 'must be a list of tool names' })
    .max(MAX_ALLOWED_TOOLS, `must name at most ${MAX_ALLOWED_TOOLS} tools`)
    .optional().describe('Tools the agent may use (hosts without tool permissions ignore it, with a warning).'),
  resume_token: cliValue('a session id', 512).optional().describe("Continue this session (a previous run's resume_token)."),
  resume_run: z.string().min(1).optional().describe("Continue the session of this fracta run (its run_id), in that run's workspace."),
  stream: z.boolean().optional().describe('Keep a live session (needs a host with the stream capability).'),
  agent_mcp: z.boolean().optional().describe('Give the agent fracta over MCP so it can spawn agents (needs agentMcp).'),
  timeout_s: seconds({ positive: true })
    .optional()
    .describe('Kill the run after this many seconds (default: the config, 1800).'),
  wait_s: seconds({ positive: false, max: LONGEST_WAIT_S, hint: 'call wait for longer' })
    .optional()
    .describe(`Wait up to this long for the result before returning status running (default ${DEFAULT_WAIT_S}; held to the wait ceiling of the client, which the tool's description gives).`),
  cleanup: oneOf(CLEANUP_POLICIES, 'cleanup policy').optional().describe('Remove the workspace when the run ends: keep, on_success, always.'),
  repo: z.string().min(1).optional().describe('A local git repository (or, with workspace: copy, any folder) for the agent to work on; on the kubernetes backend, a git URL the pod clones (with base_branch).'),
  base_branch: cliValue('a branch or commit', 256).optional().describe("The branch (or commit) the run's worktree starts from (default: the repository's current branch)."),
  branch: cliValue('a branch name', 256).optional().describe('The new branch for the run (default: fracta/<task>-<id>).'),
  workspace: oneOf(WORKSPACE_MODES, 'workspace mode')
    .optional()
    .describe('With repo: worktree (default; its own checkout and branch), copy (a plain folder), inplace (the checkout itself; unsafe for parallel runs).'),
  backend: oneOf(BACKENDS, 'backend')
    .optional()
    .describe("Where the run goes: local (this machine) or kubernetes (a Job, per the runtime's kubernetes: block); default: the runtime's backend, else local."),
  budget: budgetSchema
    .optional()
    .describe(
      "What this run and every run it spawns may spend: usd, tokens, turns, wall_s, runs (this one included). Over fracta.yaml's agents.budget key by key; a spawn made by an agent gets at most what is left of its parent's. Past it, the runs are stopped with budget_exhausted.",
    ),
}, 'field');
export type SpawnRequest = z.infer<typeof spawnRequestSchema>;

const runId = z.string({ error: 'is required: a run id from spawn or runs' }).min(1).describe('The run id returned by spawn.');

/** More run ids than any fan-out needs, yet a bound on what one wait follows. */
export const MAX_WAIT_RUNS = 100;

export const waitRequestSchema = strictObject({
  run_id: runId.optional().describe('One run to wait for (the run id returned by spawn); or give run_ids.'),
  run_ids: z
    .array(z.string({ error: 'must be run ids from spawn or runs' }).min(1, 'must not hold an empty run id'), { error: 'must be a list of run ids' })
    .min(1, 'must name at least one run')
    .max(MAX_WAIT_RUNS, `must name at most ${MAX_WAIT_RUNS} runs: wait on fewer at a time`)
    .optional()
    .describe('Several runs to wait for at once (with run_id, if given too).'),
  mode: oneOf(WAIT_MODES, 'mode')
    .optional()
    .describe('any (default): return when one of the runs has ended or needs input; all: when every one has.'),
  timeout_s: seconds({ positive: false, max: LONGEST_WAIT_S, hint: 'call wait again for longer' })
    .optional()
    .describe("How long to wait (default and at most the client's wait ceiling, which the tool's description gives)."),
}, 'field').refine((request) => request.run_id !== undefined || request.run_ids !== undefined, {
  message: 'give run_id (one run) or run_ids (several): the run ids spawn returned',
  path: ['run_id'],
});

export const runIdRequestSchema = strictObject({ run_id: runId }, 'field');

export const sendRequestSchema = strictObject({
  run_id: runId,
  message: z
    .string({ error: 'is required: the next message for the agent' })
    .refine((message) => message.trim().length > 0, 'must not be empty')
    .describe('The next user message for a live session (spawned with stream: true).'),
  wait_s: seconds({ positive: false, max: LONGEST_WAIT_S, hint: 'call wait for longer' })
    .optional()
    .describe(`Wait up to this long for the agent's answer (default ${DEFAULT_WAIT_S}; held to the client's wait ceiling).`),
}, 'field');

export const runsRequestSchema = strictObject({
  status: oneOf(RUN_STATUSES, 'status').optional().describe('Only runs with this status.'),
  limit: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').optional().describe('At most this many, newest first (default 20).'),
}, 'field');

export const emptyRequestSchema = strictObject({}, 'field');

export const cleanRequestSchema = strictObject({
  older_than_s: seconds({ positive: false })
    .optional()
    .describe('Remove the workspaces of runs that ended longer ago than this (default 86400, one day).'),
}, 'field');

/** A decision on a pending request of a run below the caller (or of any run, for the user). */
export const answerRequestSchema = strictObject({
  run_id: runId,
  request_id: z.string({ error: 'is required: the request_id of one of the run\'s pending_requests' }).min(1).describe("The request_id from the run's pending_requests."),
  decision: oneOf(DECISIONS, 'decision').describe('allow (a question: answered) or deny (declined).'),
  message: z.string().max(16_000, 'must be at most 16000 characters').optional().describe("Text for the agent: a question's answer, or why a permission is denied."),
  scope: oneOf(ANSWER_SCOPES, 'scope').optional().describe('once (default), or run: allow the same tool for the rest of this run.'),
}, 'field');

/** What a child's agent asks its parent (the ask_parent tool of the fracta it was given). */
export const askParentRequestSchema = strictObject({
  question: z.string({ error: 'is required: what to ask' }).min(1).max(16_000, 'must be at most 16000 characters').describe('What to ask the agent (or person) that started this run.'),
}, 'field');

/** What Claude Code sends its --permission-prompt-tool: the tool it wants to use and the input. */
export const approvalPromptRequestSchema = z.object({
  tool_name: z.string().min(1).describe('The tool the agent wants to use.'),
  input: z.unknown().describe("The tool's input."),
  tool_use_id: z.string().optional(),
});

/** Validates a request; the error names each bad field: `spawn.timeout_s: must be more than 0 seconds`. */
export function parseRequest<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(raw ?? {}, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const lines = formatIssues(issues, [what]);
  const first = issues[0]!;
  const field = first.code === 'unrecognized_keys' ? first.keys[0] : first.path.map(String).join('.');
  const code = issues.some((issue) => issue.path[0] === 'tier') ? 'unknown_tier' : 'invalid_input';
  throw new FractaError(code, lines.join('; '), field);
}
