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
import type { FractaOptions } from '../service.js';
import { VERSION } from '../version.js';
import { CHILD_TOOL_NAMES, FRACTA_ENV } from '../names.js';
import { LineTransport } from './transport.js';
import { markMcpConnected } from '../paths.js';
import { isRunId } from '../run-id.js';

/**
 * Everything behind the tools: the core (config, hosts, runner), the tool table and its schemas.
 * Loaded after the `initialize` answer (or by the first request that needs it), so that an MCP
 * client waits for the SDK and nothing more when it starts fracta.
 */
async function loadCore(options: FractaOptions) {
  const [{ Fracta }, { TOOLS }, resources, { progressFollower }, { errorResult }, { FractaError }, { z }] = await Promise.all([
    import('../service.js'),
    import('./tools.js'),
    import('./resources.js'),
    import('./progress.js'),
    import('./shape.js'),
    import('../errors.js'),
    import('zod'),
  ]);
  const jsonSchema = (schema: import('zod').ZodType, io: 'input' | 'output'): Tool['inputSchema'] => {
    const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
    return rest as Tool['inputSchema'];
  };
  // The tools that ask a run's chain are listed only where there is a chain: in the fracta an agent was given.
  const isChild = Boolean((options.env ?? process.env)[FRACTA_ENV.PARENT_RUN]);
  const visible = TOOLS.filter((tool) => isChild || !CHILD_TOOL_NAMES.includes(tool.name));
  const tools: Tool[] = visible.map((tool) => ({
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchema(tool.input, 'input'),
    ...(tool.output ? { outputSchema: jsonSchema(tool.output, 'output') } : {}),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
  }));
  return { fracta: new Fracta(options), TOOLS: visible, tools, resources, progressFollower, errorResult, FractaError };
}
type Core = Awaited<ReturnType<typeof loadCore>>;

const INSTRUCTIONS = [
  'fracta spawns command-line agents (runtimes configured in fracta.yaml) and returns structured results.',
  'Call spawn with a task; quick runs return their result, long ones return status "running": then call wait with the run_id (repeat until it ends).',
  'With stream: true (runtimes with the stream capability) the session stays open: when awaiting_input is true, send the next message, and close it when done.',
  'runtimes lists what can be spawned; runs and status show past and current runs; cancel stops one; each run\'s output is the resource fracta://runs/{run_id}/log.',
].join(' ');

function createServer(core: () => Promise<Core>, options: FractaOptions): Server {
  // Only the fracta at the root of a tree has a person to ask; a child's client is an agent.
  const isRoot = !(options.env ?? process.env)[FRACTA_ENV.PARENT_RUN];
  let listening = false;
  const server = new Server(
    { name: 'fracta', title: 'fracta', version: VERSION },
    { capabilities: { tools: {}, resources: {} }, instructions: INSTRUCTIONS },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: (await core()).tools }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { fracta, TOOLS, progressFollower, errorResult, FractaError } = await core();
    if (isRoot && !listening) {
      listening = true;
      // The form's code loads when the first request comes, not on the first tool call.
      fracta.onPendingRequest((runId, runtime, pending) => {
        if (server.getClientCapabilities()?.elicitation) void import('./elicit.js').then(({ askThePerson }) => askThePerson(server, fracta, runId, runtime, pending));
      });
    }
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

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: (await core()).resources.RESOURCE_TEMPLATES }));
  server.setRequestHandler(ListResourcesRequestSchema, async () => {
    const { resources, fracta } = await core();
    return { resources: await resources.listLogResources(fracta) };
  });
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const { resources, fracta } = await core();
    return resources.readLogResource(fracta, request.params.uri);
  });
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
  let loading: Promise<Core> | undefined;
  const core = (): Promise<Core> => {
    loading ??= loadCore(options);
    return loading;
  };
  const server = createServer(core, options);
  const transport = new LineTransport();

  let closing: Promise<void> | undefined;
  const close = (why: string): Promise<void> => {
    closing ??= (async () => {
      // A core still loading may be about to start runs: wait for it, then stop them.
      const fracta = loading ? await loading.then((value) => value.fracta, () => undefined) : undefined;
      const running = fracta?.activeCount() ?? 0;
      if (running > 0) console.error(`fracta: ${why}; stopping ${running} running run(s)`);
      await fracta?.shutdown();
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

  // After the handshake: load the core, say early (on stderr) when the config is broken (each tool
  // call reports it too), and recover runs left by a fracta that stopped.
  server.oninitialized = () => {
    // The fracta given to an agent tells the run's owner at once that the agent connected.
    const env = options.env ?? process.env;
    const parent = env[FRACTA_ENV.PARENT_RUN];
    if (parent && isRunId(parent)) markMcpConnected(env, parent);
    void core().then(
      ({ fracta }) => {
        try {
          fracta.config();
        } catch (error) {
          console.error(`fracta: ${(error as Error).message}`);
        }
        void fracta.clusterReport().then((lines) => {
          for (const line of lines) console.error(`fracta: ${line}`);
        });
        return fracta.recoveryLines().then(
          (lines) => {
            for (const line of lines) console.error(`fracta: ${line}`);
          },
          (error: Error) => console.error(`fracta: crash recovery failed: ${error.message}`),
        );
      },
      (error: Error) => console.error(`fracta: could not load: ${error.message}`),
    );
  };
  await server.connect(transport);
}
