/**
 * The `acp` host: any agent that speaks the Agent Client Protocol on stdio (`gemini --acp`,
 * `opencode acp`, the codex and claude adapters, ...), at the Full-Agent tier. fracta is its client
 * (host/acp/protocol.ts). A batch run is a session of one turn; a live session takes each message
 * as the next prompt on the same process.
 */
import { z } from 'zod';
import { strictObject } from '../../config/schema.js';
import type { RuntimeConfig } from '../../config/runtime.js';
import { ruleMatches } from '../../config/approvals.js';
import type { WorkspaceFile } from '../../workspace/files.js';
import { OutputParseError, type AdapterDefinition, type AgentProbe, type Capabilities, type CommandInput, type CommandSpec, type Host, type McpServerEntry, type StreamSpec, type WorkspaceOptions } from '../host.js';
import { childServers, mcpServersSchema, reservedNameProblems } from '../mcp-servers.js';
import { AcpSession } from './protocol.js';
import { AcpHandshake } from './handshake.js';

const optionsShape = {
  command: z.string({ error: 'is required: the ACP agent to run (e.g. gemini, with args ["--acp"])' }).min(1),
  args: z.array(z.string()).default([]),
  /** The method to `authenticate` with, from those the agent offers (an env-var method, for headless use). */
  auth_method: z.string().min(1).optional(),
  permissions: strictObject({
    /** Tool calls the agent may make without asking: a tool kind (read, edit, execute, ...) or title, `*` matching anything. */
    allowed_tools: z.array(z.string().min(1)).optional(),
  }).optional(),
  mcp_servers: mcpServersSchema(),
};
export type AcpOptions = z.infer<z.ZodObject<typeof optionsShape>>;

class AcpHost implements Host {
  readonly adapter = 'acp';
  // An ACP agent's sessions live where it keeps them; fracta resumes in the session's first workspace.
  readonly resumeInSameWorkdir = true;
  readonly reportsCost = false;

  constructor(private readonly runtime: RuntimeConfig<AcpOptions>) {}

  capabilities(): Capabilities {
    return { stream: true, resumeToken: true, agentMcp: true, toolPermissions: true };
  }

  command(): string {
    return this.runtime.options.command;
  }

  async workspaceFiles(_workdir: string, _options: WorkspaceOptions): Promise<WorkspaceFile[]> {
    // Everything goes over the protocol: MCP servers in session/new, the prompt in session/prompt.
    return [];
  }

  private spec(input: CommandInput, singleTurn: boolean): StreamSpec {
    const { options, name } = this.runtime;
    const allowList = input.allowedTools ?? options.permissions?.allowed_tools ?? [];
    const servers: Record<string, McpServerEntry> = childServers(options.mcp_servers, input.fractaServer);
    const protocol = new AcpSession({
      agent: `ACP agent "${name}" (${options.command})`,
      cwd: input.workdir,
      prompt: input.prompt,
      servers,
      authMethod: options.auth_method,
      model: input.model,
      resumeToken: input.resumeToken,
      allows: (tool, kind) => allowList.some((rule) => ruleMatches(rule, tool, undefined) || (kind !== undefined && ruleMatches(rule, kind, undefined))),
    });
    return {
      command: options.command,
      args: [...options.args],
      // The protocol opens the conversation itself: nothing on stdin before initialize.
      parser: { line: () => [] },
      protocol,
      ...(singleTurn ? { singleTurn: true } : {}),
    };
  }

  buildBatchCommand(input: CommandInput): CommandSpec {
    return this.spec(input, true);
  }

  parseBatchOutput(): never {
    // A batch run of this host is a session of one turn, read as it streams: its stdout is never parsed whole.
    throw new OutputParseError('an ACP agent is read over the protocol, not from its whole output');
  }

  buildStreamCommand(input: CommandInput): StreamSpec {
    return this.spec(input, false);
  }

  probe(): AgentProbe {
    const handshake = new AcpHandshake();
    return {
      command: { command: this.runtime.options.command, args: [...this.runtime.options.args] },
      start: (write) => handshake.start(write),
      line: (line) => handshake.line(line),
      answer: handshake.answer,
    };
  }
}

export const acpAdapter: AdapterDefinition<AcpOptions> = {
  name: 'acp',
  optionsShape,
  check: (options) => reservedNameProblems(options.mcp_servers),
  create: (runtime) => new AcpHost(runtime),
};
