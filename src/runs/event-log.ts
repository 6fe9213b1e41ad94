/** A run's events.jsonl: one normalized event a line, appended as they happen, secrets masked. */
import fs from 'node:fs';
import { maskDeep } from '../secrets.js';
import type { AgentEvent, LoggedEvent } from '../events.js';

export class EventLog {
  private readonly stream: fs.WriteStream;
  private seq = 0;

  constructor(
    readonly path: string,
    private readonly secrets: readonly string[],
  ) {
    this.stream = fs.createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.stream.on('error', () => undefined);
  }

  append(event: AgentEvent): LoggedEvent {
    // Masked as values, not as the line: the line has the secret JSON-escaped, and a mask laid over
    // JSON text could cut through its syntax.
    const logged = maskDeep({ ...event, seq: ++this.seq, ts: new Date().toISOString() } as LoggedEvent, this.secrets);
    this.stream.write(`${JSON.stringify(logged)}\n`);
    return logged;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}
