/**
 * The names a child agent and a client script against, on the ground floor so that hosts, the plan and
 * the MCP layer share them without importing one another: fracta's MCP tool and server names, the
 * wait ceilings its tools hold to, and the FRACTA_* variables of the chain a child inherits (which
 * spawn/lineage.ts reads back as a claim).
 */

/** The names of fracta's MCP tools: the contract clients script against, and what a child is allowed. */
export const FRACTA_TOOL_NAMES = ['spawn', 'wait', 'status', 'cancel', 'send', 'close', 'runs', 'runtimes', 'clean', 'answer', 'board', 'ask_parent', 'approval_prompt'] as const;

/** The tools only a child's fracta lists (the one fracta gives an agent with agent_mcp): they ask the run's chain. */
export const CHILD_TOOL_NAMES: readonly FractaToolName[] = ['ask_parent', 'approval_prompt'];

/** The tools only the fracta at the root lists: a child's fracta ends with the child, and opens no port. */
export const ROOT_TOOL_NAMES: readonly FractaToolName[] = ['board'];

/** The tools a child's fracta lists: what a child CLI is allowed of fracta's server. */
export const CHILD_FRACTA_TOOLS: readonly FractaToolName[] = FRACTA_TOOL_NAMES.filter((tool) => !ROOT_TOOL_NAMES.includes(tool));

/** The tool Claude Code is told to ask for a permission its runtime does not give (--permission-prompt-tool). */
export const APPROVAL_TOOL = 'approval_prompt';
export type FractaToolName = (typeof FRACTA_TOOL_NAMES)[number];

/** The name fracta's server has in a child's MCP configuration. */
export const FRACTA_SERVER_NAME = 'fracta';

/**
 * The longest a tool call waits for a run (wait's timeout_s, spawn's and send's wait_s) for a client
 * fracta does not know: below the strictest client's limit (Claude Desktop's tool calls end at about 60 s).
 */
export const DEFAULT_WAIT_CEILING_S = 50;

/**
 * The wait ceiling of each client fracta knows, by the name it gives in `initialize` (clientInfo.name):
 * just below the point where that client gives up on a tool call or takes it away from the model.
 * fracta.yaml's agents.mcp.wait_ceiling_s overrides it per name. docs: README "Wait ceilings".
 */
export const CLIENT_WAIT_CEILINGS_S: Readonly<Record<string, number>> = {
  // Claude Code turns a call still running at 120 s into a background task (CLAUDE_CODE_MCP_AUTO_BACKGROUND_MS).
  'claude-code': 110,
  // Codex ends a tool call at tool_timeout_sec, 300 s unless its config says otherwise.
  'codex-mcp-client': 280,
  // Gemini CLI ends an MCP call after 10 minutes (MCP_DEFAULT_TIMEOUT_MSEC).
  'gemini-cli-mcp-client': 580,
  // Claude Desktop and claude.ai end a call at about 60 s.
  'claude-ai': 50,
};

/** No ceiling, from any client or config, goes past this: an hour. Also the most a request may ask. */
export const LONGEST_WAIT_S = 3600;

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
