/**
 * A runtime's own MCP servers (`mcp_servers` in fracta.yaml), the same for every host that gives its
 * child MCP servers: their schema, the one name they may not take (fracta's own server's), and the
 * set a child gets.
 */
import { z } from 'zod';
import { strictObject } from '../config/schema.js';
import { FRACTA_SERVER_NAME } from '../names.js';
import type { McpServerEntry } from './host.js';

/** What every agent's config accepts as a server's name (and what cannot be read as a flag). */
export const mcpServerName = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, "_" or "-"');

const serverShape = {
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
};

/** The `mcp_servers` key of a runtime: servers by name; `extra` adds a host's own keys to each (codex's `required`). */
export function mcpServersSchema<Extra extends z.ZodRawShape = {}>(extra?: Extra) {
  return z.record(mcpServerName, strictObject({ ...serverShape, ...(extra ?? ({} as Extra)) })).default({});
}

/** A runtime's server named like fracta's own would shadow it (or be shadowed): said as a config problem. */
export function reservedNameProblems(servers: Readonly<Record<string, unknown>>): Array<[string, string]> {
  return FRACTA_SERVER_NAME in servers ? [['mcp_servers', `"${FRACTA_SERVER_NAME}" is fracta's own server (given with agent_mcp); name yours differently`]] : [];
}

/** The servers a child gets: the runtime's, and fracta's own when the spawn asked for agent_mcp. */
export function childServers(servers: Readonly<Record<string, McpServerEntry>>, fracta: McpServerEntry | undefined): Record<string, McpServerEntry> {
  return { ...servers, ...(fracta ? { [FRACTA_SERVER_NAME]: fracta } : {}) };
}
