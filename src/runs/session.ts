/**
 * A live session (spawn with stream: true): the child's output is parsed line by line into events,
 * each `result` ends a turn, and follow-up messages go to its stdin (or, for a CLI without live input,
 * to a new process that resumes the session) until it is closed, cancelled or left idle too long.
 * Turns have their own timeout.
 */
import type { AgentEvent, LoggedEvent } from '../events.js';
import { FractaError } from '../errors.js';
import type { RunningJob } from '../executor/backend.js';
import type { Result } from '../events.js';
import type { StreamSpec } from '../host/host.js';
import type { EventLog } from './event-log.js';

export interface SessionHooks {
  onEvent(event: LoggedEvent): void;
  onTurnDone(result: Result): void;
  /** The session wants the run stopped: a turn ran out of time, or nobody sent a message. */
  onExpired(reason: 'timeout' | 'idle'): void;
  /** A protocol session's agent asks for a permission its runtime does not give. */
  onPermission?(tool: string, input: unknown): Promise<boolean>;
}

export class LiveSession {
  awaitingInput = false;
  turnsDone = 0;
  lastResult: Result | undefined;
  sessionId: string | undefined;
  private job: RunningJob | undefined;
  /** Woken when the turn under way ends (a cancel waits for that). */
  private readonly turnWaiters = new Set<() => void>();
  private turnTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private spec: StreamSpec,
    readonly log: EventLog,
    private readonly limits: { readonly turnTimeoutMs: number; readonly idleMs: number },
    private readonly hooks: SessionHooks,
  ) {}

  /** Whether follow-ups go to the same process's stdin (else each turn is a new process). */
  get live(): boolean {
    return this.spec.encodeMessage !== undefined || this.spec.protocol !== undefined;
  }

  /** Called once a turn's process runs (the first carries the task); a protocol session starts talking now. */
  attach(job: RunningJob, spec: StreamSpec = this.spec): void {
    this.job = job;
    this.spec = spec;
    this.armTurnTimer();
    spec.protocol?.start({
      write: (text) => job.write(text),
      emit: (event) => this.record(event),
      permission: (tool, input) => this.hooks.onPermission?.(tool, input) ?? Promise.resolve(false),
      endInput: () => job.endInput(),
    });
  }

  line(line: string): void {
    if (!line.trim()) return;
    if (this.spec.protocol) this.spec.protocol.line(line);
    else for (const event of this.spec.parser.line(line)) this.record(event);
  }

  /**
   * A protocol session: asks the agent to stop its turn, and gives it `withinMs` to end it (its
   * result comes), before the process tree is stopped either way.
   */
  async cancelTurn(withinMs: number): Promise<void> {
    const protocol = this.spec.protocol;
    if (!protocol || this.awaitingInput) return;
    let timer: NodeJS.Timeout | undefined;
    let ended: (() => void) | undefined;
    const turnOver = new Promise<void>((resolve) => this.turnWaiters.add((ended = resolve)));
    await Promise.race([protocol.cancel().then(() => turnOver).catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, withinMs)))]);
    clearTimeout(timer);
    this.turnWaiters.delete(ended!);
  }

  private record(event: AgentEvent): void {
    const logged = this.log.append(event);
    if (event.type === 'init' && event.session_id) this.sessionId = event.session_id;
    if (event.type === 'result') {
      this.lastResult = event.result;
      this.turnsDone += 1;
      this.awaitingInput = true;
      clearTimeout(this.turnTimer);
      this.idleTimer = setTimeout(() => this.hooks.onExpired('idle'), Math.min(this.limits.idleMs, 2 ** 31 - 1));
    }
    this.hooks.onEvent(logged);
    if (event.type === 'result') {
      this.hooks.onTurnDone(event.result);
      for (const wake of [...this.turnWaiters]) wake();
    }
  }

  /** Starts the next turn's bookkeeping; refuses while the agent is still on the previous one. */
  beginTurn(text: string): void {
    if (!this.job) throw new FractaError('session_busy', 'the session is still starting; wait for its first answer, then send');
    if (!this.awaitingInput) {
      throw new FractaError('session_busy', 'the agent is still working on the previous message: call wait until awaiting_input is true, then send');
    }
    this.awaitingInput = false;
    clearTimeout(this.idleTimer);
    this.record({ type: 'user', text });
  }

  /** Gives the turn back when its process could not be started. */
  abandonTurn(): void {
    this.awaitingInput = true;
  }

  /** The next message of a live session, on the same process's stdin. */
  async send(text: string): Promise<void> {
    this.beginTurn(text);
    this.armTurnTimer();
    if (this.spec.protocol) this.spec.protocol.prompt(text);
    else await this.job!.write(this.spec.encodeMessage!(text));
  }

  /** Ends the session's input; the CLI finishes and exits. */
  close(): void {
    this.dispose();
    if (this.spec.protocol) this.spec.protocol.close();
    else this.job?.endInput();
  }

  dispose(): void {
    clearTimeout(this.turnTimer);
    clearTimeout(this.idleTimer);
  }

  /** The session's process is gone: no more timers, and a protocol's connection lets go of what it still waited for. */
  gone(): void {
    this.dispose();
    this.spec.protocol?.close();
  }

  private armTurnTimer(): void {
    clearTimeout(this.turnTimer);
    this.turnTimer = setTimeout(() => this.hooks.onExpired('timeout'), Math.min(this.limits.turnTimeoutMs, 2 ** 31 - 1));
  }
}
