/**
 * The enumerations fracta's contract is made of, one const array each: the TypeScript type and every
 * zod schema (fracta.yaml, requests, records, `runtimes`) derive from the same list, so they cannot
 * drift apart.
 */

/** What a host can do; its tier follows from them (tierOf). */
export const CAPABILITIES = ['stream', 'resumeToken', 'agentMcp', 'toolPermissions'] as const;
export type Capability = (typeof CAPABILITIES)[number];
export type Capabilities = Readonly<Record<Capability, boolean>>;

export const TIERS = ['Batch', 'Interactive', 'Full-Agent'] as const;
export type Tier = (typeof TIERS)[number];

/** The model sizes a runtime may name (model_tiers) and a spawn may ask for (tier). */
export const MODEL_TIERS = ['heavy', 'medium', 'light'] as const;
export type ModelTier = (typeof MODEL_TIERS)[number];

/** When a run's workspace is removed. */
export const CLEANUP_POLICIES = ['keep', 'on_success', 'always'] as const;
export type CleanupPolicy = (typeof CLEANUP_POLICIES)[number];

/** Where a run's process lives: this machine, or a Job on a cluster (the runtime's kubernetes: block). */
export const BACKENDS = ['local', 'kubernetes'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** How a spawn with repo works on it: a git worktree, a copy, or the checkout itself. */
export const WORKSPACE_MODES = ['worktree', 'copy', 'inplace'] as const;
export type WorkspaceMode = (typeof WORKSPACE_MODES)[number];

/** What a run's workspace is, as its record says: a fresh folder, one of the repo modes, or the workspace of the run it resumes. */
export const RECORD_WORKSPACE_MODES = ['fresh', ...WORKSPACE_MODES, 'shared'] as const;

/** What a run can ask whoever is above it: to use a tool its permissions do not allow, or a question. */
export const REQUEST_KINDS = ['permission', 'question'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

/** How a pending request is decided (a question is answered with allow and a message, or declined). */
export const DECISIONS = ['allow', 'deny'] as const;

/** wait on several runs: until one of them is ready (ended, or needs input), or every one. */
export const WAIT_MODES = ['any', 'all'] as const;
export type WaitMode = (typeof WAIT_MODES)[number];
export type Decision = (typeof DECISIONS)[number];

/** What approvals do with a request no rule decides. */
export const APPROVAL_DEFAULTS = ['ask', 'allow', 'deny'] as const;
export type ApprovalDefault = (typeof APPROVAL_DEFAULTS)[number];

/** What an answer allows: this one call, or the same tool for the rest of the run. */
export const ANSWER_SCOPES = ['once', 'run'] as const;
export type AnswerScope = (typeof ANSWER_SCOPES)[number];

/** Whether a request is put to the person at the root client (MCP elicitation) when the client can be asked. */
export const ASK_HUMAN = ['auto', 'never'] as const;
export type AskHuman = (typeof ASK_HUMAN)[number];

/** How a run's cost is known: fracta.yaml's price for its model, its CLI's own report, fracta's built-in price, or not at all. */
export const MONEY_SOURCES = ['pricing', 'reported', 'built-in', 'unknown'] as const;
export type MoneySource = (typeof MONEY_SOURCES)[number];
