/**
 * opencode's tool permissions. opencode decides each tool call from an ordered rule list (the last
 * matching rule wins) built from its `permission` config: a tool name (`bash`, `edit`, an MCP tool
 * `server_tool`, wildcards allowed) mapped to allow/ask/deny, or to patterns (`bash: {"git *": "allow"}`).
 * A denied tool is not offered to the model; a call it makes anyway fails and the run goes on.
 *
 * fracta's allow-list (the runtime's `permissions.allowed_tools` is the ceiling, a request's
 * allowed_tools may narrow it, never widen it) becomes `"*": "deny"` followed by one allow per tool,
 * `tool(pattern)` allowing only that pattern. The rules go on the agent that runs the turn: agent rules
 * come after every top-level `permission` from the user's or the project's config, so those cannot widen
 * them. They are set at the top level too, which is where opencode's subagents (the task tool) get theirs.
 * The other side of that: a tool the allow-list names is allowed even where the user's own opencode
 * config files (which fracta does not read) deny it at the top level; denies that must hold go in the
 * runtime's permissions.denied_tools (or its config option, whose denies fracta keeps last).
 */
import { FractaError } from '../../errors.js';
import { narrowTools } from '../permissions.js';
import { FRACTA_SERVER_NAME, CHILD_FRACTA_TOOLS } from '../../names.js';

export interface Permissions {
  readonly allowed_tools?: readonly string[] | undefined;
  readonly denied_tools?: readonly string[] | undefined;
  readonly auto_approve?: boolean | undefined;
}

type Action = 'allow' | 'deny';
/** opencode's `permission` config: a tool's action, or its actions per pattern. */
export type PermissionConfig = Record<string, Action | Record<string, Action>>;

/** The tools that share the `edit` permission in opencode. */
const EDIT_TOOLS = new Set(['edit', 'write', 'patch', 'multiedit', 'apply_patch']);

const TOOL = /^([A-Za-z0-9_*.-]+)(?:\((.+)\))?$/s;

/** `Bash(git *)` → { tool: "bash", pattern: "git *" }; names are opencode's (lower case), write/patch are edit. */
export function parseTool(entry: string, field: string): { tool: string; pattern: string | undefined } {
  const match = TOOL.exec(entry.trim());
  if (!match) {
    throw new FractaError(
      'invalid_input',
      `${field}: "${entry}" is not a tool: give opencode's tool names (bash, edit, read, glob, grep, webfetch, task, an MCP tool as server_tool), optionally with a pattern, as in "bash(git *)"`,
      field,
    );
  }
  const name = match[1]!.toLowerCase();
  return { tool: EDIT_TOOLS.has(name) ? 'edit' : name, pattern: match[2]?.trim() };
}

function key(entry: string, field: string): string {
  const { tool, pattern } = parseTool(entry, field);
  return pattern === undefined ? tool : `${tool}(${pattern})`;
}

/** A tool is within the ceiling when the ceiling names it, or names its tool without a pattern. */
function within(entry: string, ceiling: readonly string[]): boolean {
  const tool = key(entry, 'allowed_tools');
  const keys = ceiling.map((rule) => key(rule, 'permissions.allowed_tools'));
  return keys.includes(tool) || keys.includes(parseTool(entry, 'allowed_tools').tool);
}

/** The tools a run may use: the request's, checked against the runtime's ceiling, or the ceiling. */
export function allowedTools(runtime: string, permissions: Permissions | undefined, requested: readonly string[] | undefined): readonly string[] | undefined {
  for (const entry of requested ?? []) parseTool(entry, 'allowed_tools');
  return narrowTools(runtime, permissions?.allowed_tools, requested, within);
}

function add(config: PermissionConfig, entry: string, action: Action, field: string): void {
  const { tool, pattern } = parseTool(entry, field);
  const current = config[tool];
  if (pattern === undefined) {
    // A whole tool's action replaces its patterns; a later deny of the whole tool wins over them too.
    delete config[tool];
    config[tool] = action;
    return;
  }
  if (typeof current === 'string') {
    if (current === action) return;
    config[tool] = { '*': current, [pattern]: action };
    return;
  }
  config[tool] = { ...current, [pattern]: action };
}

/**
 * The permission rules for a run, or undefined when neither an allow-list nor a deny-list is in force
 * (opencode's own defaults then apply). With agent_mcp, fracta's own tools are allowed.
 */
export function permissionRules(allowed: readonly string[] | undefined, denied: readonly string[] | undefined, agentMcp: boolean): PermissionConfig | undefined {
  if (allowed === undefined && !denied?.length) return undefined;
  const config: PermissionConfig = {};
  if (allowed !== undefined) {
    config['*'] = 'deny';
    for (const entry of allowed) add(config, entry, 'allow', 'allowed_tools');
    if (agentMcp) for (const tool of CHILD_FRACTA_TOOLS) config[`${FRACTA_SERVER_NAME}_${tool}`] = 'allow';
  }
  for (const entry of denied ?? []) add(config, entry, 'deny', 'permissions.denied_tools');
  return config;
}
