/**
 * fracta as the ACP client of one agent process, on the official SDK (@agentclientprotocol/sdk):
 * `initialize`, `authenticate` when the runtime names a method, `session/new` (or `session/load`
 * to resume) with the workspace as cwd and the MCP servers, then one `session/prompt` per message.
 * The agent's `session/update`s become fracta's events, its stop reason ends the turn, and its
 * `session/request_permission` is decided by the runtime's allow-list, else by fracta's approvals.
 * fracta offers the agent no file system and no terminal of its own: the agent works in its cwd.
 */
import { ClientApp, PROTOCOL_VERSION, RequestError, type AnyMessage, type ClientConnection } from '@agentclientprotocol/sdk';
import type { ErrorCode } from '../../errors.js';
import type { Result, Usage } from '../../events.js';
import type { McpServerEntry, ProtocolIo, SessionProtocol } from '../host.js';
import { VERSION } from '../../version.js';
import { TurnReader } from './updates.js';

/** What a session is set up with. */
export interface AcpSetup {
  readonly agent: string;
  readonly cwd: string;
  readonly prompt: string;
  readonly servers: Readonly<Record<string, McpServerEntry>>;
  readonly authMethod: string | undefined;
  readonly model: string | undefined;
  readonly resumeToken: string | undefined;
  /** A permission the agent asks for is given without asking when it matches one of these (tool kind or title). */
  readonly allows: (tool: string, kind: string | undefined) => boolean;
}

/** ACP's "authentication required" error. */
const AUTH_REQUIRED = -32000;

type PermissionOption = { optionId: string; kind: string };

function failure(code: ErrorCode, message: string, sessionId: string | undefined): Result {
  return { output: '', isError: true, errorCode: code, errorMessage: message, warnings: [], ...(sessionId ? { resumeToken: sessionId } : {}) };
}

/** What session/prompt answers: the stop reason, and a turn's usage where the agent says it. */
interface PromptAnswer {
  readonly stopReason: string;
  /** ACP's draft field (opencode sends it). */
  readonly usage?: Record<string, unknown> | null;
  /** gemini's: `_meta.quota.token_count` {input_tokens, output_tokens}. */
  readonly _meta?: { readonly quota?: { readonly token_count?: Record<string, unknown> } } | null;
}

const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** The turn's tokens, from ACP's draft `usage` or from gemini's `_meta.quota`; undefined when the agent says none. */
function turnUsage(response: PromptAnswer): Usage | undefined {
  const usage = response.usage;
  if (usage && typeof usage.inputTokens === 'number') {
    return { input_tokens: num(usage.inputTokens), output_tokens: num(usage.outputTokens) + num(usage.thoughtTokens), cache_read_input_tokens: num(usage.cachedReadTokens), cache_creation_input_tokens: num(usage.cachedWriteTokens) };
  }
  const quota = response._meta?.quota?.token_count;
  if (quota && typeof quota.input_tokens === 'number') return { input_tokens: num(quota.input_tokens), output_tokens: num(quota.output_tokens) };
  return undefined;
}

export class AcpSession implements SessionProtocol {
  private incoming: ReadableStreamDefaultController<AnyMessage> | undefined;
  private connection: ClientConnection | undefined;
  private io: ProtocolIo | undefined;
  private sessionId: string | undefined;
  private readonly prompts: string[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private reader = new TurnReader();
  private costSoFar = 0;
  /** The agent reports its cost in dollars (usage_update): its tokens are then not priced again. */
  private reportsCost = false;
  private loading = false;
  private readonly warnings: string[] = [];

  constructor(private readonly setup: AcpSetup) {
    this.prompts.push(setup.prompt);
  }

  start(io: ProtocolIo): void {
    this.io = io;
    const readable = new ReadableStream<AnyMessage>({ start: (controller) => void (this.incoming = controller) });
    const writable = new WritableStream<AnyMessage>({ write: (message) => io.write(`${JSON.stringify(message)}\n`) });
    const app = new ClientApp({ name: 'fracta' })
      .onNotification('session/update', ({ params }) => {
        // A session being loaded replays its history: that is not this run's to log.
        if (params.sessionId !== this.sessionId || this.loading) return;
        const update = params.update as { sessionUpdate?: string; cost?: { amount?: number; currency?: string } | null };
        if (update.sessionUpdate === 'usage_update') return this.onCost(update.cost);
        for (const event of this.reader.read(update)) io.emit(event);
      })
      .onRequest('session/request_permission', async ({ params }) => this.decide(params.toolCall as Record<string, unknown>, params.options as PermissionOption[]));
    this.connection = app.connect({ readable, writable });
    void this.run();
  }

  line(line: string): void {
    let message: AnyMessage;
    try {
      message = JSON.parse(line) as AnyMessage;
    } catch {
      // stdout is the protocol's: anything else there means the agent is not speaking it.
      this.end(failure('output_unparsable', `${this.setup.agent} wrote something on stdout that is not an ACP message: ${line.slice(0, 200)}`, this.sessionId));
      return;
    }
    try {
      this.incoming?.enqueue(message);
    } catch {
      // the session is closed: what the agent says now is nobody's to read
    }
  }

  prompt(text: string): void {
    this.prompts.push(text);
    this.wake?.();
  }

  async cancel(): Promise<void> {
    if (this.sessionId && this.connection) await this.connection.agent.notify('session/cancel', { sessionId: this.sessionId });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    // Pending requests are rejected (and ignored, being closed); nothing more is read.
    this.connection?.close();
    try {
      this.incoming?.close();
    } catch {
      // closed already
    }
    this.io?.endInput();
  }

  /** A failure that ends the session: said as the turn's result, then the agent's input is closed. */
  private end(result: Result): void {
    if (this.closed) return;
    this.io?.emit({ type: 'result', result });
    this.close();
  }

  private async run(): Promise<void> {
    const agent = this.connection!.agent;
    const { setup } = this;
    try {
      const init = await agent.request('initialize', {
        protocolVersion: PROTOCOL_VERSION,
        clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
        clientInfo: { name: 'fracta', version: VERSION },
      });
      if (setup.authMethod) await agent.request('authenticate', { methodId: setup.authMethod });
      const mcpServers = Object.entries(setup.servers).map(([name, entry]) => ({
        name,
        command: entry.command,
        args: [...entry.args],
        env: Object.entries(entry.env).map(([key, value]) => ({ name: key, value })),
      }));
      if (setup.resumeToken) {
        const caps = init.agentCapabilities as { loadSession?: boolean; sessionCapabilities?: { resume?: unknown } | null } | undefined;
        const method = caps?.loadSession ? 'session/load' : caps?.sessionCapabilities?.resume ? 'session/resume' : undefined;
        if (!method) {
          return this.end(failure('capability_missing', `${setup.agent} advertises neither loading nor resuming a session, so session ${setup.resumeToken} cannot be continued: start a new run instead`, undefined));
        }
        this.sessionId = setup.resumeToken;
        this.loading = true;
        await agent.request(method, { sessionId: setup.resumeToken, cwd: setup.cwd, mcpServers });
        this.loading = false;
      } else {
        this.sessionId = ((await agent.request('session/new', { cwd: setup.cwd, mcpServers })) as { sessionId: string }).sessionId;
      }
      this.io!.emit({ type: 'init', session_id: this.sessionId, ...(setup.model ? { model: setup.model } : {}) });
      if (setup.model) await this.setModel(setup.model);
      for (;;) {
        const text = await this.nextPrompt();
        if (text === undefined) return;
        this.reader = new TurnReader();
        const response = (await agent.request('session/prompt', { sessionId: this.sessionId, prompt: [{ type: 'text', text }] })) as PromptAnswer;
        this.onTurnEnd(response);
      }
    } catch (error) {
      if (this.closed) return;
      this.end(this.explain(error));
    }
  }

  private nextPrompt(): Promise<string | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const next = this.prompts.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve(this.closed ? undefined : this.prompts.shift());
      };
    });
  }

  /** ACP's model selection (session/set_model) is not in the stable protocol yet: an agent without it runs its own model, with a warning. */
  private async setModel(model: string): Promise<void> {
    try {
      await this.connection!.agent.request('session/set_model', { sessionId: this.sessionId, modelId: model });
    } catch (error) {
      this.warnings.push(`${this.setup.agent} did not take model "${model}" (session/set_model: ${(error as Error).message}); it ran with its own model`);
    }
  }

  /** The cost an agent reports is the session's running total: the turn's is the difference. */
  private onCost(cost: { amount?: number; currency?: string } | null | undefined): void {
    if (!cost || typeof cost.amount !== 'number' || (cost.currency ?? '').toUpperCase() !== 'USD') return;
    const turn = Math.max(0, cost.amount - this.costSoFar);
    this.costSoFar = cost.amount;
    this.reportsCost = true;
    this.io!.emit({ type: 'usage', usage: {}, cost_usd: turn, turns: 0 });
  }

  private onTurnEnd(response: PromptAnswer): void {
    const io = this.io!;
    const usage = turnUsage(response);
    if (usage) io.emit({ type: 'usage', usage, turns: 1, ...(this.reportsCost ? { cost_usd: 0 } : {}) });
    const warnings = this.warnings.splice(0);
    const base = { output: this.reader.text, warnings, ...(this.sessionId ? { resumeToken: this.sessionId } : {}) };
    let result: Result;
    switch (response.stopReason) {
      case 'end_turn':
      case 'cancelled':
        result = { ...base, isError: false };
        break;
      case 'refusal':
        result = { ...base, isError: true, errorCode: 'agent_error', errorMessage: `${this.setup.agent} refused the prompt (stop reason refusal)` };
        break;
      default:
        // max_tokens, max_turn_requests: the turn was cut short; what it said stands, with why.
        result = { ...base, isError: false, warnings: [...warnings, `${this.setup.agent} stopped the turn early (stop reason ${response.stopReason})`] };
    }
    io.emit({ type: 'result', result });
  }

  private async decide(toolCall: Record<string, unknown>, options: PermissionOption[]): Promise<{ outcome: { outcome: 'selected'; optionId: string } | { outcome: 'cancelled' } }> {
    const kind = typeof toolCall.kind === 'string' ? toolCall.kind : undefined;
    const tool = typeof toolCall.title === 'string' && toolCall.title ? toolCall.title : (kind ?? 'tool');
    const allowed = this.setup.allows(tool, kind) || (await this.io!.permission(tool, toolCall.rawInput ?? {}));
    const wanted = allowed ? ['allow_once', 'allow_always'] : ['reject_once', 'reject_always'];
    const option = wanted.map((kindWanted) => options.find((candidate) => candidate.kind === kindWanted)).find(Boolean);
    return option ? { outcome: { outcome: 'selected', optionId: option.optionId } } : { outcome: { outcome: 'cancelled' } };
  }

  /** A failed request as the run's error: auth refused, a session that is not there, or the agent's own words. */
  private explain(error: unknown): Result {
    const { agent } = this.setup;
    if (error instanceof RequestError) {
      if (error.code === AUTH_REQUIRED) {
        return failure(
          'auth_failed',
          `${agent} needs authentication (${error.message}): set the runtime's auth_method to one of the methods it offers, with the credentials it needs in the runtime's env`,
          this.sessionId,
        );
      }
      return failure('agent_error', `${agent} answered with error ${error.code}: ${error.message}`, this.sessionId);
    }
    return failure('agent_error', `${agent} stopped speaking ACP: ${(error as Error)?.message ?? String(error)}`, this.sessionId);
  }
}
