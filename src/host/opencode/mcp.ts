/**
 * MCP servers for an opencode child. opencode takes them from its config (`mcp.<name>` with
 * `type: "local"`, the command and its arguments as one array, `environment`), never from a flag, and
 * runs their tools without asking. fracta's own server is only known when the workspace is written, so
 * the servers go to a config file there, which the command names with OPENCODE_CONFIG.
 */
import { jsonFile, type WorkspaceFile } from '../../workspace/files.js';
import path from 'node:path';
import { FractaError } from '../../errors.js';
import { FRACTA_DIR } from '../bootstrap.js';
import type { McpServerEntry } from '../host.js';

/** The config file fracta writes in the workspace, relative to it. */
export const MCP_CONFIG_FILE = `${FRACTA_DIR}/opencode.json`;

export interface OpencodeMcpServer {
  readonly type: 'local';
  readonly command: string[];
  readonly environment: Record<string, string>;
  readonly enabled: true;
}

export function mcpBlock(servers: Readonly<Record<string, McpServerEntry>>): Record<string, OpencodeMcpServer> {
  return Object.fromEntries(
    Object.entries(servers).map(([name, entry]) => [name, { type: 'local', command: [entry.command, ...entry.args], environment: { ...entry.env }, enabled: true }]),
  );
}

export function mcpConfigFile(servers: Readonly<Record<string, McpServerEntry>>): WorkspaceFile {
  // $schema is there because opencode adds it to a config file that lacks it.
  return jsonFile(MCP_CONFIG_FILE, { $schema: 'https://opencode.ai/config.json', mcp: mcpBlock(servers) });
}

/**
 * OPENCODE_CONFIG for a run that has MCP servers. opencode reads one such file, so a runtime that sets
 * its own cannot also get fracta's: say so rather than drop either.
 */
export function mcpConfigEnv(runtime: string, workdir: string, env: Readonly<Record<string, string>>): Record<string, string> {
  const own = env.OPENCODE_CONFIG;
  if (own) {
    throw new FractaError(
      'config_invalid',
      `runtime "${runtime}" sets OPENCODE_CONFIG (${own}) in its env, and fracta needs that variable for the MCP servers it gives the child: move that configuration into the runtime's config option (or ~/.config/opencode/opencode.json)`,
      'env.OPENCODE_CONFIG',
    );
  }
  return { OPENCODE_CONFIG: path.join(workdir, MCP_CONFIG_FILE) };
}
