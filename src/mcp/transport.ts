/**
 * The stdio transport of `fracta mcp`: newline-delimited JSON-RPC on stdin and stdout.
 *
 * Written here rather than taken from the SDK because the SDK's transport closes the connection (and
 * with it the server and every run) when one message is over 10 MiB, reports an unparsable line to
 * nobody, and joins a big message by copying its whole buffer for every chunk. Here a message may be
 * up to MAX_MESSAGE_BYTES, is joined once, and one that is too big or not JSON gets a JSON-RPC error
 * answer while the connection goes on.
 */
import process from 'node:process';
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Far above any sane task (a 10 MB prompt is ~10 MB of JSON), yet a bound on what one line may hold. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Enough of a dropped message's end to find its id: the SDK's Client writes `"id"` last. */
const TAIL_BYTES = 256;

const NEWLINE = 0x0a;

type RequestId = string | number;

/** The id of a request whose text is cut short, read from the end the SDK writes it at. */
function idFromTail(tail: string): RequestId | null {
  const match = /"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*}\s*$/.exec(tail);
  if (!match) return null;
  return match[1]!.startsWith('"') ? (JSON.parse(match[1]!) as string) : Number(match[1]);
}

function idOf(value: unknown): RequestId | null {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

export class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes of an oversized message dropped so far; its end (for the id) is kept in `tail`. */
  private dropped = 0;
  private tail = '';
  private closed = false;

  constructor(
    private readonly input: Readable = process.stdin,
    private readonly output: Writable = process.stdout,
    private readonly maxMessageBytes = MAX_MESSAGE_BYTES,
  ) {}

  async start(): Promise<void> {
    this.input.on('data', this.onData);
    this.input.on('error', this.onInputError);
    this.output.on('error', this.onOutputError);
  }

  private readonly onInputError = (error: Error) => this.onerror?.(error);

  /**
   * The client went away while fracta was writing to it (EPIPE): the connection is over. Unhandled,
   * the error would crash fracta before it could stop the runs it started.
   */
  private readonly onOutputError = (error: Error) => {
    this.onerror?.(error);
    void this.close();
  };

  private readonly onData = (chunk: Buffer) => {
    let from = 0;
    let newline: number;
    while ((newline = chunk.indexOf(NEWLINE, from)) !== -1) {
      this.take(chunk.subarray(from, newline));
      this.endOfLine();
      from = newline + 1;
    }
    if (from < chunk.length) this.take(chunk.subarray(from));
  };

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.dropped === 0 && this.size + piece.length <= this.maxMessageBytes) {
      this.chunks.push(piece);
      this.size += piece.length;
      return;
    }
    // Too big: keep counting, keep only the end, and answer once the line is over.
    if (this.dropped === 0) {
      this.dropped = this.size;
      this.tail = Buffer.concat(this.chunks).subarray(-TAIL_BYTES).toString('utf8');
      this.chunks = [];
      this.size = 0;
    }
    this.dropped += piece.length;
    this.tail = (this.tail + piece.subarray(-TAIL_BYTES).toString('utf8')).slice(-TAIL_BYTES);
  }

  private endOfLine(): void {
    if (this.dropped > 0) {
      const bytes = this.dropped;
      const id = idFromTail(this.tail);
      this.dropped = 0;
      this.tail = '';
      const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
      this.refuse(id, -32600, `the message is ${mib(bytes)}, over fracta's limit of ${mib(this.maxMessageBytes)} for one message: send a shorter task, or put the material in a file and name its path in the task`);
      return;
    }
    if (this.size === 0) return;
    const line = (this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size)).toString('utf8');
    this.chunks = [];
    this.size = 0;
    if (line.trim() !== '') this.deliver(line);
  }

  private deliver(line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.refuse(null, -32700, 'the message is not valid JSON: each JSON-RPC message must be one line of JSON');
      return;
    }
    const message = JSONRPCMessageSchema.safeParse(parsed);
    if (!message.success) {
      this.refuse(idOf(parsed), -32600, 'the message is not a valid JSON-RPC 2.0 message');
      return;
    }
    this.onmessage?.(message.data);
  }

  /** A JSON-RPC error answer: to the request when its id is known, else with id null as the spec says. */
  private refuse(id: RequestId | null, code: number, message: string): void {
    this.onerror?.(new Error(message));
    void this.write(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } }) + '\n');
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.write(JSON.stringify(message) + '\n');
  }

  private write(text: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.output.write(text)) resolve();
      else this.output.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.input.off('data', this.onData);
    this.input.off('error', this.onInputError);
    // Still listening on the output: a late EPIPE must not crash the shutdown under way.
    this.chunks = [];
    this.onclose?.();
  }
}
