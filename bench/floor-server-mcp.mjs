#!/usr/bin/env node
// A typical small MCP server, for context next to the floor: the SDK's high-level McpServer with one
// no-op tool registered through registerTool and a zod input schema, on stdio.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'floor-mcp', version: '0.0.0' });
server.registerTool('noop', { description: 'does nothing', inputSchema: { note: z.string().optional() } }, async () => ({
  content: [{ type: 'text', text: 'ok' }],
}));
process.stdin.once('end', () => process.exit(0));
await server.connect(new StdioServerTransport());
