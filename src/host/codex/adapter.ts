/**
 * The `codex` host: OpenAI's Codex CLI (`codex exec --json`) at the Full-Agent tier. Codex has no live
 * stdin protocol, so a streamed session is one process per turn, each resuming the thread of the one
 * before. Sessions live in CODEX_HOME and resume from any folder.
 */
import { z } from 'zod';
import { oneOf, strictObject } from '../../config/schema.js';
import type { RuntimeConfig } from '../../config/runtime.js';
import type { WorkspaceFile } from '../../workspace/files.js';
import { MAX_PARSED_BYTES, OutputParseError, type Capabilities, type CommandInput, type CommandSpec, type Host, type StreamSpec, type WorkspaceOptions, type AdapterDefinition } from '../host.js';
import { mcpServersSchema, reservedNameProblems } from '../mcp-servers.js';
import { codexArgv } from './argv.js';
import { launchFile } from './mcp.js';
import { SANDBOX_MODES } from './permissions.js';
import { codexFailureFromStderr } from './result.js';
import { codexStreamParser, foldCodexOutput } from './stream.js';
import { tomlValue } from './toml.js';

/** codex's JSONL carries every command's output; more than this is not a run fracta can read whole. */
const MAX_OUTPUT_BYTES = MAX_PARSED_BYTES;

const name = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, "_" or "-"');

/**
 * The runtime keys of a codex runtime in fracta.yaml. Defaults keep a run offline-safe and failing fast
 * where that costs a real user nothing; the rest is codex's own behaviour unless set.
 */
const optionsShape = {
  command: z.string().min(1).default('codex'),
  /**
   * sandbox: codex's --sandbox (exec's default is read-only); network_access: network for commands in the
   * workspace-write sandbox; allowed_tools: the ceiling of tools (exec_command, web_search, mcp__<server>…)
   * that a request's allowed_tools may narrow.
   */
  permissions: strictObject({
    sandbox: oneOf(SANDBOX_MODES, 'sandbox mode').optional(),
    network_access: z.boolean().optional(),
    allowed_tools: z.array(z.string().min(1)).optional(),
  }).optional(),
  /** Extra MCP servers for every run (approved; required: codex waits for them and fails if one cannot start). */
  mcp_servers: mcpServersSchema({ required: z.boolean().default(true) }),
  /** A Responses API of your own (a proxy, a gateway, a local server) instead of codex's configured provider. */
  provider: strictObject({
    id: name.default('custom'),
    name: z.string().min(1).optional(),
    base_url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL'),
    /** The environment variable that holds its API key (set it in env:). */
    env_key: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
    /** codex's request_max_retries and stream_max_retries for it: 0 fails at the first error. */
    max_retries: z.number().int('must be a whole number').nonnegative().optional(),
  }).optional(),
  /** Usage analytics (ab.chatgpt.com); off unless set to true. */
  analytics: z.boolean().default(false),
  /** false turns codex's plugins off (they sync from github.com and chatgpt.com at every start); unset: codex's default. */
  plugins: z.boolean().optional(),
  /** true lets codex wait for the network forever when the API is unreachable (its default); fracta's default fails instead. */
  unbounded_retries: z.boolean().default(false),
  /** Skip $CODEX_HOME/config.toml (its MCP servers, profiles, providers); the login in CODEX_HOME is still used. */
  ignore_user_config: z.boolean().default(false),
  /** Any other codex setting, as `-c key=value` (a dotted key and a value that TOML can hold). */
  config: z.record(z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a dotted key such as model_reasoning_effort or tools.x'), z.unknown()).default({}),
  extra_args: z.array(z.string()).default([]),
};
export type CodexOptions = z.infer<z.ZodObject<typeof optionsShape>>;

function check(options: CodexOptions): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  problems.push(...reservedNameProblems(options.mcp_servers));
  const permissions = options.permissions;
  if (permissions?.network_access !== undefined && permissions.sandbox !== 'workspace-write') {
    problems.push(['permissions.network_access', 'applies to the workspace-write sandbox only: set permissions.sandbox: workspace-write']);
  }
  for (const [key, value] of Object.entries(options.config)) {
    try {
      tomlValue(value);
    } catch (error) {
      problems.push([`config.${key}`, (error as Error).message]);
    }
  }
  return problems;
}

class CodexHost implements Host {
  readonly adapter = 'codex';
  readonly resumeInSameWorkdir = false;
  readonly reportsCost = false;
  readonly mcpClientName = 'codex-mcp-client';
  // A resumed thread's turn.completed carries the thread's token total (seen: 2300, then 4600 for two equal turns).
  readonly usageIsSessionTotal = true;

  constructor(private readonly runtime: RuntimeConfig<CodexOptions>) {}

  capabilities(): Capabilities {
    return { stream: true, resumeToken: true, agentMcp: true, toolPermissions: true };
  }

  command(): string {
    return this.runtime.options.command;
  }


  async workspaceFiles(_workdir: string, options: WorkspaceOptions): Promise<WorkspaceFile[]> {
    return options.fractaServer ? [launchFile(options.fractaServer)] : [];
  }

  private spec(input: CommandInput): CommandSpec {
    const { args, warnings } = codexArgv(this.runtime.name, this.runtime.options, input);
    return { command: this.runtime.options.command, args, stdin: input.prompt, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  buildBatchCommand(input: CommandInput): CommandSpec {
    return this.spec(input);
  }

  parseBatchOutput: Host['parseBatchOutput'] = (stdout) => {
    const text = stdout.readText(MAX_OUTPUT_BYTES);
    if (text === null) throw new OutputParseError(`codex printed ${stdout.bytes} bytes, more than fracta reads for one result`);
    const result = foldCodexOutput(text);
    if (result) return result;
    const last = text.trim().split('\n').at(-1)?.slice(0, 300);
    throw new OutputParseError(`expected codex's JSONL ending in turn.completed or turn.failed; its last line: ${last || '(nothing)'}`);
  };

  explainFailure = codexFailureFromStderr;

  /** One process per turn: no encodeMessage, so the core sends a follow-up as a resume of the thread. */
  buildStreamCommand(input: CommandInput): StreamSpec {
    return { ...this.spec(input), parser: codexStreamParser(input.model) };
  }
}

export const codexAdapter: AdapterDefinition<CodexOptions> = {
  name: 'codex',
  optionsShape,
  check,
  create: (runtime) => new CodexHost(runtime),
};
