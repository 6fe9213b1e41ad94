/**
 * The names a child agent and a client script against, on the ground floor so that hosts, the plan and
 * the MCP layer share them without importing one another: fracta's MCP tool and server names, the
 * wait ceilings its tools hold to, and the FRACTA_* variables of the chain a child inherits (which
 * spawn/lineage.ts reads back as a claim).
 */

/** The names of fracta's MCP tools: the contract clients script against, and what a child is allowed. */
export const FRACTA_TOOL_NAMES = ['spawn', 'wait', 'status', 'cancel', 'send', 'close', 'runs', 'runtimes', 'clean', 'answer', 'ask_parent', 'approval_prompt'] as const;

/** The tools only a child's fracta lists (the one fracta gives an agent with agent_mcp): they ask the run's chain. */
export const CHILD_TOOL_NAMES: readonly FractaToolName[] = ['ask_parent', 'approval_prompt'];

/** The tool Claude Code is told to ask for a permission its runtime does not give (--permission-prompt-tool). */
export const APPROVAL_TOOL = 'approval_prompt';
export type FractaToolName = (typeof FRACTA_TOOL_NAMES)[number];

/** The name fracta's server has in a child's MCP configuration. */
export const FRACTA_SERVER_NAME = 'fracta';

/** The longest a tool call waits for a run (wait's timeout_s, spawn's and send's wait_s): below the strictest client's limit. */
export const MAX_WAIT_S = 50;
/** How long spawn and send wait when the caller does not say. */
export const DEFAULT_WAIT_S = 20;

/** What fracta puts in a child's environment, and reads back from its own. */
export const FRACTA_ENV = {
  /** The state folder the child's own fracta shares. */
  HOME: 'FRACTA_HOME',
  /** The run the process belongs to (how recovery finds a run's processes). */
  RUN_ID: 'FRACTA_RUN_ID',
  /** The chain: the run whose agent spawns, the root of its tree, and the depth of that run. */
  PARENT_RUN: 'FRACTA_PARENT_RUN',
  ROOT_RUN: 'FRACTA_ROOT_RUN',
  DEPTH: 'FRACTA_DEPTH',
} as const;

/** The chain the agent of run `runId` inherits, so that what it spawns joins the same tree. */
export function chainEnv(runId: string, rootRun: string, depth: number): Record<string, string> {
  return { [FRACTA_ENV.PARENT_RUN]: runId, [FRACTA_ENV.ROOT_RUN]: rootRun, [FRACTA_ENV.DEPTH]: String(depth) };
}
