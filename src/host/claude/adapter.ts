/**
 * The `claude` host: Claude Code at the Full-Agent tier. Batch runs use `-p --output-format json`;
 * live sessions use stream-json in and out. The prompt always goes on stdin (a long one, or one that
 * starts with "-", breaks as an argument). Sessions resume only from the folder they started in.
 */
import path from 'node:path';
import { z } from 'zod';
import { oneOf, strictObject } from '../../config/schema.js';
import type { RuntimeConfig } from '../../config/runtime.js';
import { APPROVAL_TOOL, FRACTA_SERVER_NAME, CHILD_FRACTA_TOOLS } from '../../names.js';
import { FRACTA_DIR } from '../bootstrap.js';
import { MAX_PARSED_BYTES, OutputParseError, type Capabilities, type CommandInput, type CommandSpec, type Host, type McpServerEntry, type StreamSpec, type WorkspaceOptions, type AdapterDefinition } from '../host.js';
import { childServers, mcpServersSchema, reservedNameProblems } from '../mcp-servers.js';
import { allowedTools, checkBypassAsRoot, PERMISSION_MODES } from './permissions.js';
import { claudeFailureFromStderr, isClaudeResult, resultFromClaude } from './result.js';
import { claudeStreamParser, encodeClaudeMessage } from './stream.js';
import { jsonFile, type WorkspaceFile } from '../../workspace/files.js';

const MCP_CONFIG = `${FRACTA_DIR}/mcp.json`;
/** A result object is small; a larger output is not Claude's JSON. */
const MAX_RESULT_BYTES = MAX_PARSED_BYTES;

const optionsShape = {
  command: z.string().min(1).default('claude'),
  permissions: strictObject({
    mode: oneOf(PERMISSION_MODES, 'permission mode').optional(),
    allowed_tools: z.array(z.string().min(1)).optional(),
    disallowed_tools: z.array(z.string().min(1)).optional(),
  }).optional(),
  mcp_servers: mcpServersSchema(),
  max_retries: z.number().int('must be a whole number').nonnegative().optional(),
  nonessential_traffic: z.boolean().optional(),
  extra_args: z.array(z.string()).default([]),
};
export type ClaudeOptions = z.infer<z.ZodObject<typeof optionsShape>>;

function check(options: ClaudeOptions): Array<[string, string]> {
  return reservedNameProblems(options.mcp_servers);
}

class ClaudeHost implements Host {
  readonly adapter = 'claude';
  readonly resumeInSameWorkdir = true;
  readonly reportsCost = true;
  readonly mcpClientName = 'claude-code';

  constructor(private readonly runtime: RuntimeConfig<ClaudeOptions>) {}

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
    if (Object.keys(servers).length === 0) return [];
    const mcpServers = Object.fromEntries(
      Object.entries(servers).map(([name, entry]) => [name, { type: 'stdio', command: entry.command, args: [...entry.args], env: { ...entry.env } }]),
    );
    return [jsonFile(MCP_CONFIG, { mcpServers })];
  }

  /** The argv shared by both modes; one comment per flag where it is not obvious. */
  private args(input: CommandInput, format: string[]): { args: string[]; env: Record<string, string> } {
    const { options, name } = this.runtime;
    const permissions = options.permissions;
    checkBypassAsRoot(name, permissions?.mode, input.env);
    const args = ['-p', ...format];
    // Values a request gives are joined to their flag (`--model=x`): commander then reads them as
    // values whatever they hold, and a variadic flag cannot swallow the next element as its own.
    if (input.model) args.push(`--model=${input.model}`);
    if (input.resumeToken) args.push(`--resume=${input.resumeToken}`);
    const withMcp = input.agentMcp || Object.keys(options.mcp_servers).length > 0;
    // Only the servers fracta wrote: the user's own MCP config would leak into every child.
    if (withMcp) args.push('--mcp-config', path.join(input.workdir, MCP_CONFIG), '--strict-mcp-config');
    if (permissions?.mode) args.push('--permission-mode', permissions.mode);
    // A tool its permissions do not allow is asked for through fracta (approvals, then the chain above)
    // instead of being denied unseen: -p mode has nobody to prompt.
    if (input.agentMcp) args.push(`--permission-prompt-tool=mcp__${FRACTA_SERVER_NAME}__${APPROVAL_TOOL}`);
    const allowed = [
      ...(allowedTools(name, permissions, input.allowedTools) ?? []),
      // In -p mode an MCP tool call is denied unless allowed by name.
      ...(input.agentMcp ? CHILD_FRACTA_TOOLS.map((tool) => `mcp__${FRACTA_SERVER_NAME}__${tool}`) : []),
    ];
    // One `--allowedTools=TOOL` each: commander adds up a repeated variadic flag.
    for (const tool of allowed) args.push(`--allowedTools=${tool}`);
    for (const tool of permissions?.disallowed_tools ?? []) args.push(`--disallowedTools=${tool}`);
    args.push(...options.extra_args);
    const env: Record<string, string> = {};
    if (options.max_retries !== undefined) env.CLAUDE_CODE_MAX_RETRIES = String(options.max_retries);
    if (options.nonessential_traffic === false) env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
    return { args, env };
  }

  buildBatchCommand(input: CommandInput): CommandSpec {
    const { args, env } = this.args(input, ['--output-format', 'json']);
    return { command: this.runtime.options.command, args, env, stdin: input.prompt };
  }

  parseBatchOutput: Host['parseBatchOutput'] = (stdout) => {
    const text = stdout.readText(MAX_RESULT_BYTES);
    if (text === null) throw new OutputParseError(`claude printed ${stdout.bytes} bytes, which is not one result object`);
    const lines = text.split('\n').filter((line) => line.trim());
    for (const candidate of [text, ...lines.reverse()]) {
      try {
        const object: unknown = JSON.parse(candidate);
        if (isClaudeResult(object)) return resultFromClaude(object);
      } catch {
        // not this one
      }
    }
    throw new OutputParseError(`expected claude's JSON result object, got: ${text.trim().slice(0, 200) || '(nothing)'}`);
  };

  explainFailure = claudeFailureFromStderr;

  buildStreamCommand(input: CommandInput): StreamSpec {
    const { args, env } = this.args(input, ['--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose']);
    return {
      command: this.runtime.options.command,
      args,
      env,
      stdin: encodeClaudeMessage(input.prompt),
      parser: claudeStreamParser(),
      encodeMessage: encodeClaudeMessage,
    };
  }
}

export const claudeAdapter: AdapterDefinition<ClaudeOptions> = {
  name: 'claude',
  optionsShape,
  check,
  create: (runtime) => new ClaudeHost(runtime),
};
