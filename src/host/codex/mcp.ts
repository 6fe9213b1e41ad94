/**
 * MCP servers for a codex child, given as `-c mcp_servers.NAME={...}` overrides (codex has no flag
 * for an MCP config file, and ignores a workspace's own `.codex/config.toml` unless the project is
 * trusted, which would be written into the user's config).
 *
 * fracta's own server reaches codex through a small launcher (mcp-launch.ts) that reads the entry
 * from a private file in the workspace (mode 0600): its environment stays off the command line, which
 * every local user can read in /proc and which the run's record keeps.
 *
 * What codex does with an MCP server, and what fracta sets because of it:
 * - it starts the server with a bare environment (HOME, PATH, TMPDIR and the entry's `env`): fracta's
 *   server gets the child's whole environment back through `env_vars`, since the grandchildren it
 *   starts need the variables fracta.yaml refers to;
 * - it does not wait for a server before the first model request unless the server is `required`
 *   (a slow one is then missing from the tools), and a required server that fails to start fails the
 *   run at once, which is what a caller wants to know;
 * - in exec mode (approval policy never) a tool call that needs approval fails, so every tool of
 *   these servers is approved;
 * - a tool call times out after 60 s by default, shorter than a fracta spawn may wait.
 */
import { jsonFile, type WorkspaceFile } from '../../workspace/files.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_WAIT_CEILING_S, FRACTA_SERVER_NAME } from '../../names.js';
import { FRACTA_DIR } from '../bootstrap.js';
import type { McpServerEntry } from '../host.js';
import { override } from './toml.js';

/** Where the launch file declared for the workspace puts fracta's server for the launcher, relative to the workspace. */
export const LAUNCH_FILE = `${FRACTA_DIR}/codex-mcp.json`;

/** fracta's tools wait up to codex's wait ceiling (ask_parent up to the approvals timeout); the margin covers the call around the wait. */
const TOOL_TIMEOUT_MARGIN_S = 30;
const STARTUP_TIMEOUT_S = 30;

export interface RuntimeMcpServer extends McpServerEntry {
  readonly required: boolean;
}

function launcherPath(): string {
  return fileURLToPath(new URL('./mcp-launch.js', import.meta.url));
}

/** `-c` overrides for the runtime's servers (their tools filtered by allowed_tools) and fracta's own. */
export function mcpArgs(options: {
  readonly servers: Readonly<Record<string, RuntimeMcpServer>>;
  /** Per server: the tools it may offer, or null to leave the server out (absent: all). */
  readonly toolFilter: ReadonlyMap<string, readonly string[] | null>;
  readonly withFracta: boolean;
  readonly workdir: string;
  /** The child's environment, whose names fracta's server gets through env_vars. */
  readonly env: Readonly<Record<string, string>>;
  /** The longest one of fracta's tools may block (CommandInput.toolWaitS). */
  readonly toolWaitS?: number | undefined;
}): string[] {
  const args: string[] = [];
  for (const [name, server] of Object.entries(options.servers)) {
    const tools = options.toolFilter.get(name);
    if (tools === null) continue;
    args.push(
      ...override(['mcp_servers', name], {
        command: server.command,
        args: [...server.args],
        ...(Object.keys(server.env).length > 0 ? { env: { ...server.env } } : {}),
        required: server.required,
        startup_timeout_sec: STARTUP_TIMEOUT_S,
        default_tools_approval_mode: 'approve',
        ...(tools ? { enabled_tools: [...tools] } : {}),
      }),
    );
  }
  if (options.withFracta) {
    args.push(
      ...override(['mcp_servers', FRACTA_SERVER_NAME], {
        command: process.execPath,
        args: [launcherPath(), path.join(options.workdir, LAUNCH_FILE), FRACTA_SERVER_NAME],
        env_vars: Object.keys(options.env).sort(),
        required: true,
        startup_timeout_sec: STARTUP_TIMEOUT_S,
        tool_timeout_sec: Math.max(DEFAULT_WAIT_CEILING_S, options.toolWaitS ?? 0) + TOOL_TIMEOUT_MARGIN_S,
        default_tools_approval_mode: 'approve',
      }),
    );
  }
  return args;
}

/** The launcher's file: fracta's server as the workspace's run sees it. Private: it may carry a config path and state. */
export function launchFile(fracta: McpServerEntry): WorkspaceFile {
  return jsonFile(LAUNCH_FILE, { [FRACTA_SERVER_NAME]: { command: fracta.command, args: [...fracta.args], env: { ...fracta.env } } });
}
