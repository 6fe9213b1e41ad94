/**
 * Codex's permissions: the sandbox is its real control (what commands may write or reach), and
 * there is no allow-list of tools. fracta builds one from the switches codex has: a tool group that is
 * not allowed is turned off, MCP tools are filtered per server, and what cannot be turned off is said
 * in a warning. The runtime's `permissions` is the ceiling; a request may narrow it, never widen it.
 */
import { narrowTools } from '../permissions.js';
import { override } from './toml.js';

export const SANDBOX_MODES = ['read-only', 'workspace-write', 'danger-full-access'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

export interface CodexPermissions {
  readonly sandbox?: SandboxMode | undefined;
  readonly network_access?: boolean | undefined;
  readonly allowed_tools?: readonly string[] | undefined;
}

/** Built-in tools (as the model sees them) that codex 0.169 can switch off, by group. */
const SWITCHES: ReadonlyArray<{ readonly tools: readonly string[]; readonly off: readonly string[] }> = [
  { tools: ['exec_command', 'write_stdin'], off: ['--disable', 'shell_tool'] },
  { tools: ['web_search'], off: override(['web_search'], 'disabled') },
  { tools: ['get_goal', 'create_goal', 'update_goal'], off: ['--disable', 'goals'] },
  { tools: ['spawn_agent', 'send_input', 'wait_agent', 'close_agent', 'resume_agent'], off: ['--disable', 'multi_agent'] },
];

/** Tools codex offers (depending on the model) that have no switch. */
const ALWAYS_ON = ['apply_patch', 'view_image', 'request_user_input', 'tool_search'];

const KNOWN = new Set([...SWITCHES.flatMap((group) => group.tools), ...ALWAYS_ON]);

/** `mcp__docs` (a whole server) covers `mcp__docs__search`; any name covers itself. */
function within(tool: string, ceiling: readonly string[]): boolean {
  return ceiling.includes(tool) || ceiling.some((rule) => /^mcp__[^_]/.test(rule) && !rule.slice(5).includes('__') && tool.startsWith(`${rule}__`));
}

/** The allow-list in force: the request's, checked against the runtime's, else the runtime's. */
export function effectiveAllowedTools(runtime: string, permissions: CodexPermissions | undefined, requested: readonly string[] | undefined): readonly string[] | undefined {
  return narrowTools(runtime, permissions?.allowed_tools, requested, within);
}

export interface ToolSwitches {
  readonly args: string[];
  /** Per MCP server of the runtime: the tools it may offer, or null for none (the server is left out). */
  readonly mcpTools: ReadonlyMap<string, readonly string[] | null>;
  readonly warnings: string[];
}

/** The codex flags that make `allowed` true as far as codex can; undefined allows everything. */
export function toolSwitches(allowed: readonly string[] | undefined, mcpServers: readonly string[]): ToolSwitches {
  const mcpTools = new Map<string, readonly string[] | null>();
  if (allowed === undefined) return { args: [], mcpTools, warnings: [] };
  const args = SWITCHES.filter((group) => !group.tools.some((tool) => allowed.includes(tool))).flatMap((group) => [...group.off]);
  for (const server of mcpServers) {
    const prefix = `mcp__${server}`;
    if (allowed.includes(prefix)) continue;
    const tools = allowed.filter((tool) => tool.startsWith(`${prefix}__`)).map((tool) => tool.slice(prefix.length + 2));
    mcpTools.set(server, tools.length > 0 ? tools : null);
  }
  const warnings: string[] = [];
  const unknown = allowed.filter((tool) => !KNOWN.has(tool) && !/^mcp__./.test(tool));
  if (unknown.length > 0) {
    warnings.push(
      `allowed_tools names ${unknown.map((tool) => `"${tool}"`).join(', ')}, which codex does not have; codex's tools are ${[...KNOWN].join(', ')} and mcp__<server>__<tool>`,
    );
  }
  const stayOn = ALWAYS_ON.filter((tool) => !allowed.includes(tool));
  if (stayOn.length > 0) {
    warnings.push(
      `codex cannot switch off ${stayOn.join(', ')}, so the agent keeps them where its model has them; what it may write is bounded by the runtime's permissions.sandbox`,
    );
  }
  return { args, mcpTools, warnings };
}

/** The sandbox flags: codex's own default (read-only in exec, or the user's config) unless the runtime sets one. */
export function sandboxArgs(permissions: CodexPermissions | undefined): string[] {
  const args: string[] = [];
  if (permissions?.sandbox) args.push('--sandbox', permissions.sandbox);
  if (permissions?.network_access !== undefined) args.push(...override(['sandbox_workspace_write', 'network_access'], permissions.network_access));
  return args;
}
