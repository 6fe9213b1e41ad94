/**
 * The MCP tools: names and schemas are the contract clients script against. Handlers validate
 * through the core and shape its answer; they hold no logic of their own.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  answerRequestSchema,
  approvalPromptRequestSchema,
  askParentRequestSchema,
  cleanRequestSchema,
  emptyRequestSchema,
  runIdRequestSchema,
  runsRequestSchema,
  sendRequestSchema,
  spawnRequestSchema,
  waitRequestSchema,
} from '../requests.js';
import { answerSchema, runRecordSchema } from '../record.js';
import { runtimeInfoSchema } from '../runtime-info.js';
import type { Fracta } from '../service.js';
import { DEFAULT_WAIT_S, type FractaToolName } from '../names.js';
import { recordResult, structuredResult, summarize, waitResult } from './shape.js';

export interface ToolContext {
  readonly fracta: Fracta;
  /** Aborted when the client cancels the request; the run itself goes on. */
  readonly signal: AbortSignal;
  /** Reports the runs' progress to a client that asked for it, while the handler waits. */
  readonly followProgress: (runIds: readonly string[]) => () => Promise<void>;
  /** The longest this client's calls may wait, in seconds (see wait-ceiling.ts). */
  readonly ceilingS: number;
}

export interface ToolDefinition {
  readonly name: string;
  readonly title: string;
  /** A function of the client's wait ceiling where the description states it. */
  readonly description: string | ((ceilingS: number) => string);
  readonly input: z.ZodType;
  /** Absent for a tool whose caller reads its text only (Claude Code's permission prompt tool). */
  readonly output?: z.ZodType;
  readonly annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
  readonly handler: (args: unknown, context: ToolContext) => Promise<CallToolResult>;
}

const waitOutput = runRecordSchema.extend({
  runs: z.array(runRecordSchema).optional().describe('with run_ids: every run waited on, in the order named'),
  ready: z.array(z.string()).optional().describe('with run_ids: the runs that have ended or need input'),
  mode: z.enum(['any', 'all']).optional(),
});

const runsOutput = z.object({
  runs: z.array(runRecordSchema),
  truncated: z.boolean().optional().describe('more runs matched than fit in one answer: ask with a smaller limit or a status'),
});

/**
 * The MCP SDK's stdio client drops the connection on a message over 10 MiB (STDIO_DEFAULT_MAX_BUFFER_SIZE),
 * so a `runs` answer holds records up to this many bytes of JSON: with the text and JSON's escapes on
 * the wire it stays well under that.
 */
const RUNS_ANSWER_BYTES = 3 * 1024 * 1024;

/** The newest runs that fit in one answer, and whether any were left out. */
function fitRuns<T>(runs: readonly T[]): { runs: T[]; truncated: boolean } {
  const kept: T[] = [];
  let bytes = 0;
  for (const run of runs) {
    bytes += Buffer.byteLength(JSON.stringify(run));
    if (bytes > RUNS_ANSWER_BYTES && kept.length > 0) return { runs: kept, truncated: true };
    kept.push(run);
  }
  return { runs: kept, truncated: false };
}
const cleanOutput = z.object({
  removed: z.array(z.string()).describe('runs whose workspace was removed'),
  failed: z.array(z.object({ run_id: z.string(), message: z.string() })),
});
const decidedOutput = answerSchema.extend({ request_id: z.string() });
const runtimesOutput = z.object({
  default_runtime: z.string(),
  config_source: z.string().describe('the fracta.yaml in use, or "built-in defaults"'),
  runtimes: z.array(runtimeInfoSchema),
});

export const TOOLS: readonly (ToolDefinition & { readonly name: FractaToolName })[] = [
  {
    name: 'spawn',
    title: 'Spawn an agent',
    description: (ceilingS) =>
      `Start a command-line agent (a runtime from fracta.yaml) on a task, in its own workspace. Waits up to wait_s (default ${Math.min(DEFAULT_WAIT_S, ceilingS)}, ` +
      `at most ${ceilingS} for this client) and returns the result, or status "running" with a run_id to pass to wait. The run goes on if this call is cancelled or times out.`,
    input: spawnRequestSchema,
    output: runRecordSchema,
    annotations: { destructiveHint: false, openWorldHint: true },
    handler: async (args, { fracta, signal, followProgress, ceilingS }) => recordResult(await fracta.spawn(args, { signal, follow: followProgress, ceilingS })),
  },
  {
    name: 'wait',
    title: 'Wait for runs',
    description: (ceilingS) =>
      `Wait until a run ends or needs input, or timeout_s passes (default and at most ${ceilingS} for this client); returns its record. ` +
      'Give run_ids to wait on several at once: mode "any" (default) returns when the first is ready, "all" when every one is, with each run\'s record. ' +
      'Sends progress notifications when asked.',
    input: waitRequestSchema,
    output: waitOutput,
    annotations: { readOnlyHint: true },
    handler: async (args, { fracta, signal, followProgress, ceilingS }) => {
      const result = await fracta.waitRuns(args, { signal, follow: followProgress, ceilingS });
      if (!Array.isArray((args as { run_ids?: unknown }).run_ids)) return recordResult(result.record);
      return waitResult(result);
    },
  },
  {
    name: 'status',
    title: 'Run status',
    description: "A run's current record: status, output, error, resume token, workspace, log URI.",
    input: runIdRequestSchema,
    output: runRecordSchema,
    annotations: { readOnlyHint: true },
    handler: async (args, { fracta }) => recordResult(await fracta.status(args)),
  },
  {
    name: 'cancel',
    title: 'Cancel a run',
    description: 'Stop a run: its whole process tree is killed (SIGTERM, then SIGKILL after the grace period). Returns the final record.',
    input: runIdRequestSchema,
    output: runRecordSchema,
    annotations: { destructiveHint: true, idempotentHint: true },
    handler: async (args, { fracta }) => recordResult(await fracta.cancel(args)),
  },
  {
    name: 'send',
    title: 'Send a message to a live session',
    description: (ceilingS) =>
      'Send the next user message to a live session (a run spawned with stream: true whose awaiting_input is true). ' +
      `Waits up to wait_s (default ${Math.min(DEFAULT_WAIT_S, ceilingS)}, at most ${ceilingS} for this client) for the answer, like spawn.`,
    input: sendRequestSchema,
    output: runRecordSchema,
    annotations: { destructiveHint: false, openWorldHint: true },
    handler: async (args, { fracta, signal, followProgress, ceilingS }) => recordResult(await fracta.send(args, { signal, follow: followProgress, ceilingS })),
  },
  {
    name: 'close',
    title: 'Close a live session',
    description: "End a live session normally: the agent's input is closed, its last answer is the run's result.",
    input: runIdRequestSchema,
    output: runRecordSchema,
    annotations: { destructiveHint: false, idempotentHint: true },
    handler: async (args, { fracta }) => recordResult(await fracta.close(args)),
  },
  {
    name: 'runs',
    title: 'List runs',
    description: 'Recent runs, newest first, optionally only those with one status.',
    input: runsRequestSchema,
    output: runsOutput,
    annotations: { readOnlyHint: true },
    handler: async (args, { fracta }) => {
      const { runs, truncated } = fitRuns(await fracta.runs(args));
      const lines = runs.map((run) => summarize(run).split('\n')[0]);
      if (truncated) lines.push(`(only the newest ${runs.length} fit in one answer: ask with a smaller limit or a status, or read one run with status)`);
      return structuredResult(truncated ? { runs, truncated } : { runs }, runs.length ? lines.join('\n') : 'no runs');
    },
  },
  {
    name: 'clean',
    title: 'Remove old workspaces',
    description:
      'Remove the workspaces of runs that ended more than older_than_s ago (default a day): a worktree is removed and pruned, its branch kept if it holds commits. Never touches a running run.',
    input: cleanRequestSchema,
    output: cleanOutput,
    annotations: { destructiveHint: true, idempotentHint: true },
    handler: async (args, { fracta }) => {
      const report = await fracta.clean(args);
      return structuredResult({ ...report }, `removed ${report.removed.length} workspace(s)${report.failed.length ? `; ${report.failed.length} could not be removed` : ''}`);
    },
  },
  {
    name: 'answer',
    title: 'Answer a pending request',
    description:
      "Decide a permission request or answer a question of a run below you (a run whose wait or status shows needs_input): allow or deny, with a message (a question's answer, or why not). " +
      'scope: run allows the same tool for the rest of that run.',
    input: answerRequestSchema,
    output: runRecordSchema,
    annotations: { destructiveHint: false, idempotentHint: false },
    handler: async (args, { fracta }) => recordResult(await fracta.answer(args)),
  },
  {
    name: 'board',
    title: 'Open the run board',
    description:
      'The URL of a live page (on this machine) showing every run as a tree, with logs and pending requests, where a person can cancel, answer and send. Starts the board if it is not running. Give the URL to the person; it holds the token the page needs.',
    input: emptyRequestSchema,
    output: z.object({ url: z.string().describe('open it in a browser on this machine'), started: z.boolean().describe('whether this call started the board') }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    handler: async (_args, { fracta }) => {
      const { sharedBoard } = await import('../board/shared.js');
      const { url, started } = await sharedBoard(fracta);
      return structuredResult({ url, started }, `${started ? 'the board is up' : 'the board is running'}: ${url}`);
    },
  },
  {
    name: 'ask_parent',
    title: 'Ask the parent',
    description:
      'Ask the agent (or person) that started you a question, and wait for the answer (up to the approvals timeout, 300 s by default). Use it when you cannot go on without a decision that is not yours to make.',
    input: askParentRequestSchema,
    output: decidedOutput,
    annotations: { readOnlyHint: true, openWorldHint: true },
    handler: async (args, { fracta, signal }) => {
      const decided = await fracta.askParent(args, signal);
      const text = decided.decision === 'allow' ? (decided.message ?? '(answered without a message)') : `declined (${decided.decided_by})${decided.message ? `: ${decided.message}` : ''}`;
      return structuredResult({ ...decided }, text);
    },
  },
  {
    name: 'approval_prompt',
    title: 'Ask for a permission',
    description: "Asks the run's chain (or its approvals policy) for a permission the runtime does not give; Claude Code calls it itself (--permission-prompt-tool).",
    input: approvalPromptRequestSchema,
    annotations: { readOnlyHint: true },
    handler: async (args, { fracta, signal }) => {
      const decided = await fracta.approvalPrompt(args, signal);
      const input = (args as { input?: unknown }).input;
      // The shape Claude Code reads from its permission prompt tool: JSON in the text.
      const text =
        decided.decision === 'allow'
          ? JSON.stringify({ behavior: 'allow', updatedInput: input ?? {} })
          : JSON.stringify({ behavior: 'deny', message: `denied by ${decided.decided_by}${decided.message ? `: ${decided.message}` : ''}` });
      // Claude Code wants exactly one text block: no structured copy beside it.
      return { content: [{ type: 'text', text }] };
    },
  },
  {
    name: 'runtimes',
    title: 'List runtimes',
    description: 'The configured runtimes: host, capability tier, capabilities, models, and whether the CLI is installed.',
    input: emptyRequestSchema,
    output: runtimesOutput,
    annotations: { readOnlyHint: true },
    handler: async (_args, { fracta }) => {
      const config = fracta.config();
      const runtimes = fracta.runtimes();
      const text = runtimes
        .map((r) => `${r.name}${r.default ? ' (default)' : ''}: host ${r.host}, ${r.tier}, model ${r.model ?? '-'}, command ${r.command_path ?? `${r.command} (not found)`}`)
        .join('\n');
      return structuredResult({ default_runtime: config.defaultRuntime, config_source: config.source ?? 'built-in defaults', runtimes }, text);
    },
  },
];
