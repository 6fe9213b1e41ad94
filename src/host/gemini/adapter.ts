/**
 * The `gemini` host: Gemini CLI at the Full-Agent tier. Batch runs use `--output-format json`,
 * streamed runs `--output-format stream-json`. Gemini has no live input protocol in headless mode,
 * so a streamed session is one process per turn: the prompt goes on stdin, the process ends with its
 * turn, and the next message resumes the session (`--resume`) from the same workspace, the only
 * folder gemini finds it from. Each run has its own GEMINI_CLI_HOME in the workspace (see home.ts),
 * whose settings.json gives the child its MCP servers, trusted, and keeps the user's login.
 */
import os from 'node:os';
import { z } from 'zod';
import { oneOf, strictObject } from '../../config/schema.js';
import type { RuntimeConfig } from '../../config/runtime.js';
import type { WorkspaceFile } from '../../workspace/files.js';
import { FRACTA_SERVER_NAME } from '../../names.js';
import { MAX_PARSED_BYTES, OutputParseError, type Capabilities, type CommandInput, type CommandSpec, type Host, type McpServerEntry, type StreamSpec, type WorkspaceOptions, type AdapterDefinition } from '../host.js';
import { childServers, mcpServersSchema, reservedNameProblems } from '../mcp-servers.js';
import { geminiArgv, type OutputFormat } from './argv.js';
import { IGNORE_FILE, readUserSettings, runHomeFiles, userHome } from './home.js';
import { APPROVAL_MODES } from './permissions.js';
import { geminiFailureFromStderr, isGeminiJson, lastJsonObject, resultFromGeminiJson } from './result.js';
import { AUTH_TYPES, childSettings } from './settings.js';
import { geminiStreamParser } from './stream.js';

/** The result object is small; a larger output is not gemini's JSON. */
const MAX_RESULT_BYTES = MAX_PARSED_BYTES;
/** The error object comes last on stderr, after a stack trace. */
const STDERR_TAIL_CHARS = 64 * 1024;

const optionsShape = {
  command: z.string().min(1).default('gemini'),
  permissions: strictObject({
    approval_mode: oneOf(APPROVAL_MODES, 'approval mode').optional(),
    allowed_tools: z.array(z.string().min(1)).optional(),
    exclude_tools: z.array(z.string().min(1)).optional(),
  }).optional(),
  mcp_servers: mcpServersSchema(),
  /** security.auth.selectedType; by default the user's own, or gemini-api-key with a key and a base URL. */
  auth_type: oneOf(AUTH_TYPES, 'auth type').optional(),
  /** Merged into the child's settings.json over fracta's defaults (MCP servers go in mcp_servers). */
  settings: z.record(z.string(), z.unknown()).default({}),
  /** privacy.usageStatisticsEnabled: off by default, so a child contacts nothing but its model endpoint. */
  usage_statistics: z.boolean().default(false),
  /** general.enableAutoUpdate(Notification): a child never updates the CLI under a running fracta. */
  auto_update: z.boolean().default(false),
  /** general.maxAttempts (1–10, gemini's default 10, with backoff from 5 s): how often a 429/5xx is retried. */
  max_attempts: z.number().int('must be a whole number').min(1).max(10).optional(),
  /** general.retryFetchErrors: false makes an unreachable endpoint fail at once instead of after minutes. */
  retry_fetch_errors: z.boolean().optional(),
  extra_args: z.array(z.string()).default([]),
};
export type GeminiOptions = z.infer<z.ZodObject<typeof optionsShape>>;

function check(options: GeminiOptions): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  problems.push(...reservedNameProblems(options.mcp_servers));
  if ('mcpServers' in options.settings) problems.push(['settings', 'give MCP servers in mcp_servers, which fracta writes trusted for every run']);
  const commas = (options.permissions?.allowed_tools ?? []).filter((tool) => tool.includes(','));
  if (commas.length > 0) problems.push(['permissions.allowed_tools', `gemini splits tool names at commas: name ${commas.map((t) => `"${t}"`).join(', ')} as separate entries`]);
  return problems;
}

/**
 * fracta's own server as gemini should start it: with the environment gemini itself has. gemini
 * removes from an MCP server's environment every variable whose name or value looks secret (an API
 * key, a token), so the fracta it starts could not resolve the `${VAR}` values its runtimes need to
 * spawn grandchildren. The entry's own env is exempt, and gemini expands `$NAME` in it from its own
 * environment: each variable is named there, never written (settings.json holds no value).
 */
function withEnvPassedThrough(fracta: McpServerEntry, env: Readonly<Record<string, string>>): McpServerEntry {
  const names = Object.keys(env).filter((name) => !(name in fracta.env) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
  return { ...fracta, env: { ...Object.fromEntries(names.map((name) => [name, `$${name}`])), ...fracta.env } };
}

class GeminiHost implements Host {
  readonly adapter = 'gemini';
  readonly resumeInSameWorkdir = true;
  readonly reportsCost = false;
  readonly mcpClientName = 'gemini-cli-mcp-client';

  constructor(private readonly runtime: RuntimeConfig<GeminiOptions>) {}

  capabilities(): Capabilities {
    return { stream: true, resumeToken: true, agentMcp: true, toolPermissions: true };
  }

  command(): string {
    return this.runtime.options.command;
  }


  private mcpServers(fracta: McpServerEntry | undefined): Record<string, McpServerEntry> {
    return childServers(this.runtime.options.mcp_servers, fracta);
  }

  async workspaceFiles(workdir: string, options: WorkspaceOptions): Promise<WorkspaceFile[]> {
    const { options: o } = this.runtime;
    // The child's environment, to find the user's own gemini home and auth.
    const env = options.env;
    const from = userHome(env, os.homedir());
    const settings = childSettings({
      user: await readUserSettings(from),
      env,
      authType: o.auth_type,
      usageStatistics: o.usage_statistics,
      autoUpdate: o.auto_update,
      maxAttempts: o.max_attempts,
      retryFetchErrors: o.retry_fetch_errors,
      excludeTools: o.permissions?.exclude_tools,
      runtimeSettings: o.settings,
      mcpServers: this.mcpServers(options.fractaServer && withEnvPassedThrough(options.fractaServer, env)),
      ignoreFile: IGNORE_FILE,
    });
    return runHomeFiles(workdir, from, settings);
  }

  private build(input: CommandInput, format: OutputFormat) {
    const names = Object.keys(this.mcpServers(undefined));
    if (input.agentMcp) names.push(FRACTA_SERVER_NAME);
    return geminiArgv(this.runtime.name, this.runtime.options, input, format, names);
  }

  buildBatchCommand(input: CommandInput): CommandSpec {
    const { args, env, warnings } = this.build(input, 'json');
    return { command: this.runtime.options.command, args, env, stdin: input.prompt, ...(warnings.length ? { warnings } : {}) };
  }

  parseBatchOutput: Host['parseBatchOutput'] = (stdout, exit) => {
    const text = stdout.readText(MAX_RESULT_BYTES);
    if (text === null) throw new OutputParseError(`gemini printed ${stdout.bytes} bytes, which is not one result object`);
    const printed = text.trim() ? lastJsonObject(text) : undefined;
    if (printed && isGeminiJson(printed)) return resultFromGeminiJson(printed);
    // On failure gemini prints nothing on stdout and its error object last on stderr.
    const failure = lastJsonObject(exit.stderr.tail(STDERR_TAIL_CHARS));
    if (failure && isGeminiJson(failure) && failure.error) return resultFromGeminiJson(failure);
    throw new OutputParseError(`expected gemini's JSON result object, got: ${text.trim().slice(0, 200) || '(nothing)'}`);
  };

  explainFailure = geminiFailureFromStderr;

  buildStreamCommand(input: CommandInput): StreamSpec {
    const { args, env, warnings } = this.build(input, 'stream-json');
    // No encodeMessage: each follow-up is a new process resuming the session.
    return { command: this.runtime.options.command, args, env, stdin: input.prompt, parser: geminiStreamParser(), ...(warnings.length ? { warnings } : {}) };
  }
}

export const geminiAdapter: AdapterDefinition<GeminiOptions> = {
  name: 'gemini',
  optionsShape,
  check,
  create: (runtime) => new GeminiHost(runtime),
};
