/**
 * The `opencode` host: OpenCode (`opencode run --format json`) at the Full-Agent tier. Its JSON events
 * stream as the agent works; it has no live stdin protocol, so a streamed session is one process per
 * turn, each resuming the session (`--session`) of the one before. Sessions resume only from the folder
 * they started in (from another one opencode hangs), so fracta resumes in the session's workspace.
 *
 * Options (fracta.yaml, beside adapter/model/env):
 *   command          the opencode executable (default "opencode")
 *   agent            opencode's agent for the turn (--agent; default: opencode's, "build")
 *   config           opencode config merged into OPENCODE_CONFIG_CONTENT, e.g. a `provider` block (keep
 *                    keys out of it: opencode reads "{env:NAME}" from the runtime's env); the runtime's
 *                    env may carry OPENCODE_CONFIG_CONTENT too (this goes on top)
 *   permissions      allowed_tools (the ceiling a request may narrow: opencode tool names, "bash(git *)"
 *                    for a pattern), denied_tools, auto_approve (--auto: approve what opencode would ask
 *                    about, such as files outside the workspace, which a headless run otherwise rejects)
 *   mcp_servers      extra MCP servers for the child, beside fracta's own (agent_mcp)
 *   max_retries      retries of a failed model call before the run fails; unset, opencode's own five
 *                    (about a minute for a dead endpoint); 0 fails at once (see retry-limit-plugin.ts).
 *                    Like any plugin it makes opencode wait for its background npm install first: where
 *                    the npm registry cannot be reached, set npm_offline too
 *   npm_offline      default false; true: npm_config_offline=true, so opencode's background install of
 *                    @opencode-ai/plugin fails at once instead of retrying an unreachable registry
 *   autoupdate       default false: OPENCODE_DISABLE_AUTOUPDATE=1, a child never updates itself
 *   models_fetch     default true; false: OPENCODE_DISABLE_MODELS_FETCH=1 (no models.dev catalog fetch,
 *                    for offline use; models must then be in the config)
 *   default_plugins  default true; false: OPENCODE_DISABLE_DEFAULT_PLUGINS=1 (its built-in provider
 *                    login plugins; not needed with an API key in the config)
 *   extra_args       more `opencode run` arguments
 */
import { z } from 'zod';
import { strictObject } from '../../config/schema.js';
import type { RuntimeConfig } from '../../config/runtime.js';
import type { WorkspaceFile } from '../../workspace/files.js';
import { MAX_PARSED_BYTES, OutputParseError, type Capabilities, type CommandInput, type CommandSpec, type Host, type McpServerEntry, type StreamSpec, type WorkspaceOptions, type AdapterDefinition } from '../host.js';
import { childServers, mcpServersSchema, reservedNameProblems } from '../mcp-servers.js';
import { opencodeCommand, type ArgvOptions } from './argv.js';
import { mcpConfigFile } from './mcp.js';
import { parseTool } from './permissions.js';
import { opencodeFailureFromStderr } from './result.js';
import { OpencodeTurn } from './stream.js';

/** opencode's JSONL carries every tool's output; past this only the end of it is read. */
const MAX_OUTPUT_BYTES = MAX_PARSED_BYTES;
const TAIL_CHARS = 1024 * 1024;

const toolList = z.array(z.string().min(1));

const optionsShape = {
  command: z.string().min(1).default('opencode'),
  agent: z.string().min(1).optional(),
  config: z.record(z.string(), z.unknown()).default({}),
  permissions: strictObject({
    allowed_tools: toolList.optional(),
    denied_tools: toolList.optional(),
    auto_approve: z.boolean().optional(),
  }).optional(),
  mcp_servers: mcpServersSchema(),
  max_retries: z.number().int('must be a whole number').nonnegative().optional(),
  autoupdate: z.boolean().default(false),
  models_fetch: z.boolean().default(true),
  default_plugins: z.boolean().default(true),
  npm_offline: z.boolean().default(false),
  extra_args: z.array(z.string()).default([]),
};
export type OpencodeOptions = z.infer<z.ZodObject<typeof optionsShape>>;

function check(options: OpencodeOptions): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  problems.push(...reservedNameProblems(options.mcp_servers));
  for (const field of ['allowed_tools', 'denied_tools'] as const) {
    for (const entry of options.permissions?.[field] ?? []) {
      try {
        parseTool(entry, `permissions.${field}`);
      } catch (error) {
        problems.push([`permissions.${field}`, (error as Error).message.replace(/^permissions\.\w+: /, '')]);
      }
    }
  }
  return problems;
}

class OpencodeHost implements Host {
  readonly adapter = 'opencode';
  readonly resumeInSameWorkdir = true;
  // opencode reports a cost only for models its own config prices: 0 for the rest.
  readonly reportsCost = false;

  constructor(private readonly runtime: RuntimeConfig<OpencodeOptions>) {}

  capabilities(): Capabilities {
    return { stream: true, resumeToken: true, agentMcp: true, toolPermissions: true };
  }

  command(): string {
    return this.runtime.options.command;
  }


  private mcpServers(fracta: McpServerEntry | undefined): Record<string, McpServerEntry> {
    return childServers(this.runtime.options.mcp_servers, fracta);
  }

  async workspaceFiles(_workdir: string, options: WorkspaceOptions): Promise<WorkspaceFile[]> {
    const servers = this.mcpServers(options.fractaServer);
    return Object.keys(servers).length > 0 ? [mcpConfigFile(servers)] : [];
  }

  private spec(input: CommandInput): CommandSpec {
    const { options, name } = this.runtime;
    const argvOptions: ArgvOptions = {
      agent: options.agent,
      permissions: options.permissions,
      config: options.config,
      hasMcpServers: Object.keys(options.mcp_servers).length > 0,
      maxRetries: options.max_retries,
      autoupdate: options.autoupdate,
      modelsFetch: options.models_fetch,
      defaultPlugins: options.default_plugins,
      npmOffline: options.npm_offline,
      extraArgs: options.extra_args,
    };
    const { args, env } = opencodeCommand(name, argvOptions, input);
    return { command: options.command, args, env, stdin: input.prompt };
  }

  buildBatchCommand(input: CommandInput): CommandSpec {
    return this.spec(input);
  }

  /** The batch path is the stream path: the same lines, folded. */
  parseBatchOutput: Host['parseBatchOutput'] = (stdout) => {
    const whole = stdout.readText(MAX_OUTPUT_BYTES);
    const text = whole ?? stdout.tail(TAIL_CHARS).replace(/^[^\n]*\n/, '');
    const turn = new OpencodeTurn();
    for (const line of text.split('\n')) if (line.trim()) turn.line(line);
    if (!turn.started) throw new OutputParseError(`expected opencode's JSON events, got: ${text.trim().slice(0, 200) || '(nothing)'}`);
    const result = turn.result();
    if (whole !== null) return result;
    return { ...result, warnings: [...result.warnings, `opencode printed ${stdout.bytes} bytes of events; only the last ${TAIL_CHARS} characters were read`] };
  };

  explainFailure = opencodeFailureFromStderr;

  buildStreamCommand(input: CommandInput): StreamSpec {
    return { ...this.spec(input), parser: new OpencodeTurn() };
  }
}

export const opencodeAdapter: AdapterDefinition<OpencodeOptions> = {
  name: 'opencode',
  optionsShape,
  check,
  create: (runtime) => new OpencodeHost(runtime),
};
