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
import type { WaitCeiling } from '../wait-ceiling.js';
import { VERSION } from '../version.js';
import { DEFAULT_WAIT_CEILING_S, FRACTA_ENV } from '../names.js';
import { prebuiltToolList, quickCeiling, toolList } from './tool-list.js';
import { LineTransport } from './transport.js';
import { markMcpConnected } from '../paths.js';
import { isRunId } from '../run-id.js';

/**
 * Everything behind the tools: the core (config, hosts, runner), the tool table and its schemas.
 * Loaded after the `initialize` answer (or by the first request that needs it), so that an MCP
 * client waits for the SDK and nothing more when it starts fracta.
 */
async function loadCore(options: FractaOptions) {
  const [{ Fracta }, { TOOLS }, resources, { progressFollower }, { errorResult }, { FractaError }, { toolJsonSchema }, { waitCeiling }] = await Promise.all([
    import('../service.js'),
    import('./tools.js'),
    import('./resources.js'),
    import('./progress.js'),
    import('./shape.js'),
    import('../errors.js'),
    import('./json-schema.js'),
    import('../wait-ceiling.js'),
  ]);
  const isChild = isChildOf(options);
  const listable = TOOLS.map((tool) => ({
    ...tool,
    inputSchema: toolJsonSchema(tool.input, 'input'),
    ...(tool.output ? { outputSchema: toolJsonSchema(tool.output, 'output') } : {}),
  }));
  // The descriptions state the client's ceiling: one list per ceiling, made once.
  const lists = new Map<number, Tool[]>();
  const toolsFor = (ceilingS: number): Tool[] => {
    let list = lists.get(ceilingS);
    if (!list) lists.set(ceilingS, (list = toolList(listable, isChild, ceilingS)));
    return list;
  };
  const visible = TOOLS.filter((tool) => toolsFor(DEFAULT_WAIT_CEILING_S).some((listed) => listed.name === tool.name));
  const fracta = new Fracta(options);
  /** The client's wait ceiling; a broken config leaves only fracta's own table (each call reports the config). */
  const ceilingFor = (clientName: string | undefined) => {
    let overrides: Readonly<Record<string, number>> = {};
    try {
      overrides = fracta.config().waitCeilings;
    } catch {
      // reported on its own
    }
    return waitCeiling(clientName, overrides);
  };
  return { fracta, TOOLS: visible, toolsFor, ceilingFor, resources, progressFollower, errorResult, FractaError };
}

/** The tools that ask a run's chain are listed only where there is a chain: in the fracta an agent was given. */
function isChildOf(options: FractaOptions): boolean {
  return Boolean((options.env ?? process.env)[FRACTA_ENV.PARENT_RUN]);
}
type Core = Awaited<ReturnType<typeof loadCore>>;

const INSTRUCTIONS = [
  'fracta spawns command-line agents (runtimes configured in fracta.yaml) and returns structured results.',
  'Call spawn with a task; quick runs return their result, long ones return status "running": then call wait with the run_id (repeat until it ends).',
  'With several runs going, one wait with run_ids (mode any or all) returns when the first (or every) one is done: fewer polls.',
  'With stream: true (runtimes with the stream capability) the session stays open: when awaiting_input is true, send the next message, and close it when done.',
  'runtimes lists what can be spawned; runs and status show past and current runs; cancel stops one; each run\'s output is the resource fracta://runs/{run_id}/log.',
].join(' ');

/** The process's core, loaded on the first call; `isLoaded` says whether it has finished loading. */
export type CoreLoader = (() => Promise<Core>) & { readonly isLoaded: () => boolean };

/** One MCP session's server: stdio has one, HTTP one per client, all on one core (one queue). */
export function createServer(core: CoreLoader, options: FractaOptions): { server: Server; detach: () => void } {
  // Only the fracta at the root of a tree has a person to ask; a child's client is an agent.
  const isRoot = !isChildOf(options);
  let stopListening: (() => void) | undefined;
  // The runs this session started: its person is asked about those, not about another client's.
  const own = new Set<string>();
  const server = new Server(
    { name: 'fracta', title: 'fracta', version: VERSION },
    { capabilities: { tools: {}, resources: {} }, instructions: INSTRUCTIONS },
  );

  // The ceiling follows the client's name from initialize; read once, on the first request that needs it.
  let ceiling: WaitCeiling | undefined;
  const ceilingOf = (loaded: Core): WaitCeiling => {
    ceiling ??= loaded.ceilingFor(server.getClientVersion()?.name);
    return ceiling;
  };
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    // Until the core has loaded, the list made at build time answers (the core loads meanwhile).
    if (!core.isLoaded()) {
      const quick = quickCeiling(server.getClientVersion()?.name, options.configPath, options.env ?? process.env);
      const list = quick && prebuiltToolList(isChildOf(options), quick.seconds);
      if (list) {
        void core();
        return { tools: list };
      }
    }
    const loaded = await core();
    return { tools: loaded.toolsFor(ceilingOf(loaded).seconds) };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const loaded = await core();
    const { fracta, TOOLS, progressFollower, errorResult, FractaError } = loaded;
    if (isRoot && !stopListening) {
      // The form's code loads when the first request comes, not on the first tool call.
      stopListening = fracta.onPendingRequest((runId, runtime, pending) => {
        if (!own.has(runId) || !server.getClientCapabilities()?.elicitation) return;
        void import('./elicit.js').then(({ askThePerson }) => askThePerson(server, fracta, runId, runtime, pending));
      });
    }
    const tool = TOOLS.find((candidate) => candidate.name === request.params.name);
    if (!tool) {
      return errorResult(
        new FractaError('invalid_input', `unknown tool "${request.params.name}" (use ${TOOLS.map((t) => t.name).join(', ')})`, 'name'),
      );
    }
    const progress = progressFollower(fracta, request.params._meta?.progressToken, extra.sendNotification);
    // A spawn's run id is known to this session as soon as it is followed, before any request of its can come.
    const followProgress = (runIds: readonly string[]) => {
      if (tool.name === 'spawn') for (const runId of runIds) own.add(runId);
      return progress(runIds);
    };
    try {
      const result = await tool.handler(request.params.arguments ?? {}, { fracta, signal: extra.signal, followProgress, ceilingS: ceilingOf(loaded).seconds });
      const runId = (result.structuredContent as { run_id?: unknown } | undefined)?.run_id;
      if (tool.name === 'spawn' && typeof runId === 'string') own.add(runId);
      return result;
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
  // A refused message is answered to the client; stderr says so for whoever reads the server's log.
  server.onerror = (error) => console.error(`fracta: ${error.message}`);
  server.oninitialized = () => {
    // The fracta given to an agent tells the run's owner at once that the agent connected.
    const env = options.env ?? process.env;
    const parent = env[FRACTA_ENV.PARENT_RUN];
    if (parent && isRunId(parent)) markMcpConnected(env, parent);
    const client = server.getClientVersion();
    const say = (chosen: WaitCeiling) => console.error(`fracta: client ${[client?.name ?? '(unnamed)', client?.version].filter(Boolean).join(' ')}, wait ceiling ${chosen.seconds} s (${chosen.source})`);
    // Said without loading the core when the config cannot change the ceiling; else once it has loaded.
    const quick = quickCeiling(client?.name, options.configPath, options.env ?? process.env);
    if (quick) say(quick);
    else void core().then((loaded) => say(ceilingOf(loaded)), () => undefined);
  };
  return { server, detach: () => stopListening?.() };
}

/** Keeps every stray console call off stdout, which belongs to the protocol. */
export function guardStdout(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  console.warn = toStderr;
}

/** The process's one core, loaded on first need. */
export function coreLoader(options: FractaOptions): { core: CoreLoader; loaded: () => Promise<Core | undefined> } {
  let loading: Promise<Core> | undefined;
  let done = false;
  const core = Object.assign(
    (): Promise<Core> => {
      loading ??= loadCore(options).then((value) => {
        done = true;
        return value;
      });
      return loading;
    },
    { isLoaded: () => done },
  );
  // A core still loading may be about to start runs: wait for it (for a shutdown to stop them).
  return { core, loaded: async () => (loading ? loading.then((value) => value, () => undefined) : undefined) };
}

/** Once per process: say early (on stderr) when the config is broken (each tool call reports it too), and recover runs left by a fracta that stopped. */
export function reportAtStart(core: CoreLoader): void {
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
}

export async function runMcpServer(options: FractaOptions): Promise<void> {
  guardStdout();
  const { core, loaded } = coreLoader(options);
  const { server } = createServer(core, options);
  const transport = new LineTransport();

  let closing: Promise<void> | undefined;
  const close = (why: string): Promise<void> => {
    closing ??= (async () => {
      const fracta = (await loaded())?.fracta;
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

  // After the handshake: the client waits for the SDK and nothing more, and its tools/list (which
  // comes at once) is answered from the prebuilt list while the core loads.
  const initialized = server.oninitialized;
  server.oninitialized = () => {
    initialized?.();
    reportAtStart(core);
  };
  await server.connect(transport);
}
