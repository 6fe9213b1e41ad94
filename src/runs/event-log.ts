/** A run's events.jsonl: one normalized event a line, appended as they happen, secrets masked. */
import fs from 'node:fs';
import { maskSecrets } from '../config/env.js';
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
    const logged = { ...event, seq: ++this.seq, ts: new Date().toISOString() } as LoggedEvent;
    const line = maskSecrets(JSON.stringify(logged), this.secrets);
    this.stream.write(`${line}\n`);
    return JSON.parse(line) as LoggedEvent;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}
