/**
 * `fracta mcp`: the MCP stdio server. stdout carries JSON-RPC and nothing else. When the client goes
 * away (stdin ends) or a signal comes, every running child's process group is killed and recorded.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { FractaError } from '../errors.js';
import { Fracta, type FractaOptions } from '../service.js';
import { VERSION } from '../version.js';
import { listLogResources, readLogResource, RESOURCE_TEMPLATES } from './resources.js';
import { progressFollower } from './progress.js';
import { errorResult } from './shape.js';
import { TOOLS } from './tools.js';
import { LineTransport } from './transport.js';

const INSTRUCTIONS = [
  'fracta spawns command-line agents (runtimes configured in fracta.yaml) and returns structured results.',
  'Call spawn with a task; quick runs return their result, long ones return status "running": then call wait with the run_id (repeat until it ends).',
  'With stream: true (runtimes with the stream capability) the session stays open: when awaiting_input is true, send the next message, and close it when done.',
  'runtimes lists what can be spawned; runs and status show past and current runs; cancel stops one; each run\'s output is the resource fracta://runs/{run_id}/log.',
].join(' ');

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Tool['inputSchema'] {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest as Tool['inputSchema'];
}

let toolList: Tool[] | undefined;
export function listTools(): Tool[] {
  toolList ??= TOOLS.map((tool) => ({
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchema(tool.input, 'input'),
    outputSchema: jsonSchema(tool.output, 'output'),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
  }));
  return toolList;
}

export function createServer(fracta: Fracta): Server {
  const server = new Server(
    { name: 'fracta', title: 'fracta', version: VERSION },
    { capabilities: { tools: {}, resources: {} }, instructions: INSTRUCTIONS },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listTools() }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = TOOLS.find((candidate) => candidate.name === request.params.name);
    if (!tool) {
      return errorResult(
        new FractaError('invalid_input', `unknown tool "${request.params.name}" (use ${TOOLS.map((t) => t.name).join(', ')})`, 'name'),
      );
    }
    const followProgress = progressFollower(fracta, request.params._meta?.progressToken, extra.sendNotification);
    try {
      return await tool.handler(request.params.arguments ?? {}, { fracta, signal: extra.signal, followProgress });
    } catch (error) {
      return errorResult(error);
    }
  });

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: RESOURCE_TEMPLATES }));
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: await listLogResources(fracta) }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => readLogResource(fracta, request.params.uri));
  return server;
}

/** Keeps every stray console call off stdout, which belongs to the protocol. */
function guardStdout(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  console.warn = toStderr;
}

export async function runMcpServer(options: FractaOptions): Promise<void> {
  guardStdout();
  const fracta = new Fracta(options);
  const server = createServer(fracta);
  const transport = new LineTransport();

  let closing: Promise<void> | undefined;
  const close = (why: string): Promise<void> => {
    closing ??= (async () => {
      const running = fracta.runner.activeCount();
      if (running > 0) console.error(`fracta: ${why}; stopping ${running} running run(s)`);
      await fracta.shutdown();
      await server.close().catch(() => undefined);
      process.exit(0);
    })();
    return closing;
  };
  process.stdin.once('end', () => void close('the client closed stdin'));
  process.stdin.once('close', () => void close('the client closed stdin'));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => void close(`got ${signal}`));
  server.onclose = () => void close('the connection closed');
  // A refused message is answered to the client; stderr says so for whoever reads the server's log.
  server.onerror = (error) => console.error(`fracta: ${error.message}`);

  // Say early (on stderr) when the config is broken; each tool call reports it too. After the
  // handshake, so that reading the config does not delay the client's first answer.
  server.oninitialized = () => {
    try {
      fracta.config();
    } catch (error) {
      console.error(`fracta: ${(error as Error).message}`);
    }
    void fracta.ready().then(
      (report) => report.interrupted.length > 0 && console.error(`fracta: recovered ${report.interrupted.length} run(s) left by a fracta that stopped (${report.killed.length} killed)`),
      (error: Error) => console.error(`fracta: crash recovery failed: ${error.message}`),
    );
  };
  await server.connect(transport);
}
