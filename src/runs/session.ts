/**
 * A live session (spawn with stream: true): the child's output is parsed line by line into events,
 * each `result` ends a turn, and follow-up messages go to its stdin until it is closed, cancelled or
 * left idle too long. Turns have their own timeout.
 */
import type { AgentEvent, LoggedEvent } from '../events.js';
import { FractaError } from '../errors.js';
import type { RunningJob } from '../executor/backend.js';
import type { Result, StreamSpec } from '../host/host.js';
import type { EventLog } from './event-log.js';

export interface SessionHooks {
  onEvent(event: LoggedEvent): void;
  onTurnDone(result: Result): void;
  /** The session wants the run stopped: a turn ran out of time, or nobody sent a message. */
  onExpired(reason: 'timeout' | 'idle'): void;
}

export class LiveSession {
  awaitingInput = false;
  turnsDone = 0;
  lastResult: Result | undefined;
  sessionId: string | undefined;
  private job: RunningJob | undefined;
  private turnTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly spec: StreamSpec,
    readonly log: EventLog,
    private readonly limits: { readonly turnTimeoutMs: number; readonly idleMs: number },
    private readonly hooks: SessionHooks,
  ) {}

  /** Called once the process runs; its first turn (the task) is under way. */
  attach(job: RunningJob): void {
    this.job = job;
    this.armTurnTimer();
  }

  line(line: string): void {
    if (!line.trim()) return;
    for (const event of this.spec.parser.line(line)) this.record(event);
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
    if (event.type === 'result') this.hooks.onTurnDone(event.result);
  }

  async send(text: string): Promise<void> {
    if (!this.job) throw new FractaError('session_busy', 'the session is still starting; wait for its first answer, then send');
    if (!this.awaitingInput) {
      throw new FractaError('session_busy', 'the agent is still working on the previous message: call wait until awaiting_input is true, then send');
    }
    this.awaitingInput = false;
    clearTimeout(this.idleTimer);
    this.record({ type: 'user', text });
    this.armTurnTimer();
    await this.job.write(this.spec.encodeMessage(text));
  }

  /** Ends the session's input; the CLI finishes and exits. */
  close(): void {
    this.dispose();
    this.job?.endInput();
  }

  dispose(): void {
    clearTimeout(this.turnTimer);
    clearTimeout(this.idleTimer);
  }

  private armTurnTimer(): void {
    clearTimeout(this.turnTimer);
    this.turnTimer = setTimeout(() => this.hooks.onExpired('timeout'), Math.min(this.limits.turnTimeoutMs, 2 ** 31 - 1));
  }
}
