/** The names of fracta's MCP tools: the contract clients script against, and what a child is allowed. */
export const FRACTA_TOOL_NAMES = ['spawn', 'wait', 'status', 'cancel', 'send', 'close', 'runs', 'runtimes', 'clean'] as const;
export type FractaToolName = (typeof FRACTA_TOOL_NAMES)[number];

/** The name fracta's server has in a child's MCP configuration. */
export const FRACTA_SERVER_NAME = 'fracta';
