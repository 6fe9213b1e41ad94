#!/usr/bin/env node
// The floor for "cold start": the smallest MCP server the SDK allows, one no-op tool, on stdio.
// It is built like fracta's server (the low-level Server class with request handlers), so the
// difference is what fracta loads and does before it answers `initialize`.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const server = new Server({ name: 'floor', version: '0.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [{ name: 'noop', description: 'does nothing', inputSchema: { type: 'object', properties: {} } }],
}));
server.setRequestHandler(CallToolRequestSchema, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
process.stdin.once('end', () => process.exit(0));
await server.connect(new StdioServerTransport());
