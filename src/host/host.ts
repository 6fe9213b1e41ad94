/**
 * The host contract: what fracta needs from an adapter between its orchestrator and one agent CLI.
 * Capabilities are data; the tier is derived from them and checked before any side effect.
 */
import { FractaError, type ErrorCode } from '../errors.js';
import type { Capabilities, Tier } from '../vocabulary.js';
import type { AgentEvent, Result, StreamParser } from '../events.js';
import type { AdapterSchema, RuntimeConfig } from '../config/runtime.js';
import type { WorkspaceFile } from '../workspace/files.js';
import type { Advertised } from '../probes.js';

export type { Capabilities, Tier } from '../vocabulary.js';

export const NO_CAPABILITIES: Capabilities = Object.freeze({
  stream: false,
  resumeToken: false,
  agentMcp: false,
  toolPermissions: false,
});

export function tierOf(caps: Capabilities): Tier {
  if (caps.stream && caps.resumeToken && caps.agentMcp) return 'Full-Agent';
  if (caps.stream) return 'Interactive';
  return 'Batch';
}

/** The most of a CLI's output a host reads whole to find its result; what a host does past it is its own (say so or read the end). */
export const MAX_PARSED_BYTES = 64 * 1024 * 1024;

/** What to run: an argument array (never a shell line), the prompt on stdin when the CLI takes it there. */
export interface CommandSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** Text written to the child's stdin, which is then closed. Absent: stdin is closed at once. */
  readonly stdin?: string;
  /** Variables added on top of the runtime's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Files (paths relative to the workspace) the run needs; the backend puts them there before the run. */
  readonly files?: readonly WorkspaceFile[];
  /** What the host had to adjust in the request, said in the result. */
  readonly warnings?: readonly string[];
}

/**
 * A streamed run. With `encodeMessage`, a live session: stdin stays open and takes one encoded
 * message per turn. Without it, stdin carries the prompt and closes, the process ends with its turn,
 * and each follow-up message is a new process of buildStreamCommand resuming the session.
 */
export interface StreamSpec extends CommandSpec {
  readonly parser: StreamParser;
  /** The stdin text that carries one user message (the first prompt included). */
  readonly encodeMessage?: (text: string) => string;
  /** A session spoken over a protocol (ACP): it reads stdout and writes stdin itself, the parser is unused. */
  readonly protocol?: SessionProtocol;
  /** One turn, then the session is closed: a batch run of a CLI that only speaks a protocol. */
  readonly singleTurn?: boolean;
}

/**
 * What a CLI that speaks a protocol on stdio (ACP) is given: fracta is its client, writing as much as
 * it reads. The runs layer makes one for each process of a run.
 */
export interface ProtocolIo {
  /** Writes to the agent's stdin. */
  write(text: string): Promise<void>;
  /** Hands fracta one of the run's events (a `result` ends the turn). */
  emit(event: AgentEvent): void;
  /** A permission the agent asks for that the runtime's own allow-list does not give: fracta's approvals decide (fail closed). */
  permission(tool: string, input: unknown): Promise<boolean>;
  /** Closes the agent's stdin: its cue to exit. */
  endInput(): void;
}

/** A live session driven over a protocol (StreamSpec.protocol): a fresh one per process. */
export interface SessionProtocol {
  /** The process runs: set up the session, then send the first prompt. */
  start(io: ProtocolIo): void;
  /** One line of the agent's stdout. */
  line(line: string): void;
  /** The next user message. */
  prompt(text: string): void;
  /** Asks the agent to stop the turn under way (before fracta stops its process tree). */
  cancel(): Promise<void>;
  /** Ends the session and the agent's input. */
  close(): void;
}

/** Whether a planned command is a live session's (parsed line by line) rather than a batch run's. */
export function isStreamSpec(command: CommandSpec | StreamSpec): command is StreamSpec {
  return 'parser' in command;
}

export interface CommandInput {
  readonly prompt: string;
  readonly model: string | undefined;
  readonly resumeToken: string | undefined;
  /** The workspace the command runs in (its cwd). */
  readonly workdir: string;
  /** Tools the request allows (hosts with toolPermissions apply them; a request may only narrow). */
  readonly allowedTools: readonly string[] | undefined;
  /** Give the child fracta (and the runtime's MCP servers) over MCP. */
  readonly agentMcp: boolean;
  /** fracta's own server for the child, with agentMcp (for a host that passes servers in its command or protocol, not in a file). */
  readonly fractaServer?: McpServerEntry | undefined;
  /** The child's environment, for checks that depend on it. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The longest one of fracta's tools may block the child (ask_parent and a permission request
   * wait up to the approvals timeout), for CLIs that time out an MCP call of their own accord.
   */
  readonly toolWaitS?: number;
}

/** An MCP server for the child, in the stdio form every CLI understands. */
export interface McpServerEntry {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export interface BootstrapFile {
  /** Path relative to the workspace, or "" when the host needs no task file. */
  readonly fileName: string;
  readonly fileContent: string;
  /** The first prompt the agent receives. */
  readonly initialPrompt: string;
}

/** A child's captured stream, kept on disk: hosts read what they need, never the whole of a huge log. */
export interface CapturedOutput {
  readonly path: string;
  readonly bytes: number;
  /** The whole text, or null when it is longer than maxBytes. */
  readText(maxBytes: number): string | null;
  /** The last maxChars characters. */
  tail(maxChars: number): string;
}

export interface ExitInfo {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderr: CapturedOutput;
}

/** Thrown by parseBatchOutput when the output is not what the host expects. */
export class OutputParseError extends FractaError {
  constructor(message: string) {
    super('output_unparsable', message);
  }
}

export class StreamNotSupported extends FractaError {
  constructor(runtime: string) {
    super('stream_not_supported', `runtime "${runtime}" has no stream mode; spawn it without stream: true`);
  }
}

export interface WorkspaceOptions {
  readonly allowedTools: readonly string[] | undefined;
  /** The child's environment, as the run will start it. */
  readonly env: Readonly<Record<string, string>>;
  /** Set when the request asked for agent_mcp: fracta's own server, to be given to the child. */
  readonly fractaServer: McpServerEntry | undefined;
}

export interface Host {
  /** The adapter's name, as in `adapter:` of fracta.yaml. */
  readonly adapter: string;
  capabilities(): Capabilities;
  /** Whether a session can be resumed only from the folder it started in (claude, gemini, opencode). */
  readonly resumeInSameWorkdir: boolean;
  /** Whether the CLI reports what a run cost in dollars (else fracta prices its usage, where it knows the model's price). */
  readonly reportsCost: boolean;
  /** Whether the usage the CLI reports is the session's running total (codex, on a resumed thread), not the turn's. */
  readonly usageIsSessionTotal?: boolean;
  /**
   * The name the CLI gives itself in MCP's initialize when it connects to fracta's server, where
   * fracta knows it: its wait ceiling (wait-ceiling.ts) then sets how long a tool call may block it.
   */
  readonly mcpClientName?: string;
  /** The executable this host runs, for preflight and `fracta runtimes`. */
  command(): string;
  /** The files the host needs in the run's workspace (settings, MCP config), declared: the backend puts them there. */
  workspaceFiles(workdir: string, options: WorkspaceOptions): Promise<WorkspaceFile[]>;
  /** Pure: no side effects, so a bad request fails here before anything exists on disk. */
  buildBatchCommand(input: CommandInput): CommandSpec;
  parseBatchOutput(stdout: CapturedOutput, exit: ExitInfo): Result;
  /**
   * For a run that failed without a result: what the end of its stderr means, when the host knows
   * (a session that does not exist, a refused flag). Undefined leaves it a plain exit_nonzero.
   */
  explainFailure?(stderrTail: string): { code: ErrorCode; message: string } | undefined;
  /**
   * The command for a live session, whose output is parsed line by line as the child writes it.
   * Pure like buildBatchCommand; throws StreamNotSupported on a host without the stream capability.
   * (The executor, not the host, owns the process: every run gets the same kill, logs and timeouts.)
   */
  buildStreamCommand(input: CommandInput): StreamSpec;
  /** For an agent that says what it can when asked (ACP's initialize): how to ask it (`fracta runtimes --probe`). */
  probe?(): AgentProbe;
}

/** Asking an agent what it can: the command to start, and the talk that learns it. */
export interface AgentProbe {
  readonly command: CommandSpec;
  /** Starts talking once the process runs. */
  start(write: (text: string) => Promise<void>): void;
  /** One line of the agent's stdout. */
  line(line: string): void;
  /** What it advertised; rejects when it said something else. */
  readonly answer: Promise<Advertised>;
}

/**
 * An adapter: one agent CLI's part of fracta.yaml and the factory of its Host. Each adapter folder
 * exports one; host/adapters.ts lists them by name.
 */
export interface AdapterDefinition<Options = any> extends AdapterSchema<Options> {
  create(runtime: RuntimeConfig<Options>): Host;
}
