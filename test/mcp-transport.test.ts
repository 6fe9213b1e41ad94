import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LineTransport } from '../src/mcp/transport.js';

interface Wire {
  transport: LineTransport;
  input: PassThrough;
  received: unknown[];
  answers: () => unknown[];
  errors: string[];
}

const wires: Wire[] = [];
afterEach(async () => {
  for (const wire of wires.splice(0)) await wire.transport.close();
});

async function wire(maxBytes = 1024): Promise<Wire> {
  const input = new PassThrough();
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => (written += chunk.toString()));
  const transport = new LineTransport(input, output, maxBytes);
  const received: unknown[] = [];
  const errors: string[] = [];
  transport.onmessage = (message) => received.push(message);
  transport.onerror = (error) => errors.push(error.message);
  await transport.start();
  const result = { transport, input, received, errors, answers: () => written.split('\n').filter(Boolean).map((line) => JSON.parse(line) as unknown) };
  wires.push(result);
  return result;
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const ping = (id: number) => JSON.stringify({ jsonrpc: '2.0', method: 'ping', id });

describe('the stdio transport of fracta mcp', () => {
  it('delivers messages split across chunks anywhere, several per chunk, and CRLF lines', async () => {
    const { input, received } = await wire();
    const text = `${ping(1)}\n${ping(2)}\r\n${ping(3)}\n`;
    for (const piece of [text.slice(0, 5), text.slice(5, 40), text.slice(40)]) input.write(piece);
    await settle();
    expect(received).toEqual([1, 2, 3].map((id) => ({ jsonrpc: '2.0', method: 'ping', id })));
  });

  it('keeps multi-byte characters whole when a chunk ends inside one', async () => {
    const { input, received } = await wire();
    const bytes = Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'note', params: { text: 'ü€😀' } }) + '\n');
    const cut = bytes.indexOf(Buffer.from('€')) + 1;
    input.write(bytes.subarray(0, cut));
    input.write(bytes.subarray(cut));
    await settle();
    expect(received).toEqual([{ jsonrpc: '2.0', method: 'note', params: { text: 'ü€😀' } }]);
  });

  it('answers a message over the limit with an error to its id and goes on serving', async () => {
    const { input, received, answers, errors } = await wire(100);
    const big = JSON.stringify({ method: 'tools/call', params: { task: 'x'.repeat(5000) }, jsonrpc: '2.0', id: 7 });
    input.write(big.slice(0, 60));
    input.write(big.slice(60, 3000));
    input.write(big.slice(3000) + '\n' + ping(8) + '\n');
    await settle();
    expect(answers()).toEqual([{ jsonrpc: '2.0', id: 7, error: { code: -32600, message: expect.stringMatching(/over fracta's limit of 0\.0 MiB/) } }]);
    expect(received).toEqual([{ jsonrpc: '2.0', method: 'ping', id: 8 }]);
    expect(errors).toHaveLength(1);
  });

  it('answers a line that is not JSON with a parse error (id null) and goes on serving', async () => {
    const { input, received, answers } = await wire();
    input.write('this is not json\n' + ping(9) + '\n');
    await settle();
    expect(answers()).toEqual([{ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.stringMatching(/not valid JSON/) } }]);
    expect(received).toEqual([{ jsonrpc: '2.0', method: 'ping', id: 9 }]);
  });

  it('answers JSON that is not JSON-RPC with an invalid request error to its id', async () => {
    const { input, received, answers } = await wire();
    input.write(JSON.stringify({ id: 'a1', hello: 'there' }) + '\n');
    await settle();
    expect(answers()).toEqual([{ jsonrpc: '2.0', id: 'a1', error: { code: -32600, message: expect.stringMatching(/JSON-RPC 2\.0/) } }]);
    expect(received).toEqual([]);
  });

  it('an error writing to the client (EPIPE) closes the connection instead of crashing', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const transport = new LineTransport(input, output, 1024);
    let closed = 0;
    transport.onclose = () => closed++;
    transport.onerror = () => undefined;
    await transport.start();
    output.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    output.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(closed).toBe(1);
  });

  it('ignores blank lines and writes nothing after close', async () => {
    const { transport, input, received, answers } = await wire();
    let closed = 0;
    transport.onclose = () => closed++;
    input.write('\n\r\n\n');
    await transport.close();
    await transport.close();
    await transport.send({ jsonrpc: '2.0', method: 'ping', id: 1 });
    input.write(ping(2) + '\n');
    await settle();
    expect(received).toEqual([]);
    expect(answers()).toEqual([]);
    expect(closed).toBe(1);
  });
});
