/**
 * The names a child agent and a client script against, on the ground floor so that hosts, the plan and
 * the MCP layer share them without importing one another: fracta's MCP tool and server names and the
 * wait ceilings its tools hold to. (The chain a child inherits travels in FRACTA_HOME, FRACTA_RUN_ID,
 * FRACTA_PARENT_RUN, FRACTA_ROOT_RUN and FRACTA_DEPTH; runs/lineage.ts reads them back as a claim.)
 */

/** The names of fracta's MCP tools: the contract clients script against, and what a child is allowed. */
export const FRACTA_TOOL_NAMES = ['spawn', 'wait', 'status', 'cancel', 'send', 'close', 'runs', 'runtimes', 'clean'] as const;
export type FractaToolName = (typeof FRACTA_TOOL_NAMES)[number];

/** The name fracta's server has in a child's MCP configuration. */
export const FRACTA_SERVER_NAME = 'fracta';

/** The longest a tool call waits for a run (wait's timeout_s, spawn's and send's wait_s): below the strictest client's limit. */
export const MAX_WAIT_S = 50;
/** How long spawn and send wait when the caller does not say. */
export const DEFAULT_WAIT_S = 20;
