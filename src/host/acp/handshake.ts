/**
 * `fracta runtimes --probe` for an ACP agent: `initialize` and nothing more, to learn what the agent
 * advertises (sessions it can load or resume, how it authenticates, the MCP transports it takes).
 */
import { ClientApp, PROTOCOL_VERSION, type AnyMessage } from '@agentclientprotocol/sdk';
import { VERSION } from '../../version.js';
import type { Advertised } from '../../probes.js';

export class AcpHandshake {
  private incoming: ReadableStreamDefaultController<AnyMessage> | undefined;
  readonly answer: Promise<Advertised>;
  private begin!: (write: (text: string) => Promise<void>) => void;

  constructor() {
    this.answer = new Promise<Advertised>((resolve, reject) => {
      this.begin = (write) => {
        const readable = new ReadableStream<AnyMessage>({ start: (controller) => void (this.incoming = controller) });
        const writable = new WritableStream<AnyMessage>({ write: (message) => write(`${JSON.stringify(message)}\n`) });
        const connection = new ClientApp({ name: 'fracta' }).connect({ readable, writable });
        connection.agent
          .request('initialize', { protocolVersion: PROTOCOL_VERSION, clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false }, clientInfo: { name: 'fracta', version: VERSION } })
          .then((init) => {
            const caps = (init.agentCapabilities ?? {}) as { loadSession?: boolean; sessionCapabilities?: { resume?: unknown } | null; mcpCapabilities?: { http?: boolean; sse?: boolean } };
            const info = init.agentInfo as { name?: string; version?: string } | null | undefined;
            resolve({
              agent: info?.name ? `${info.name}${info.version ? ` ${info.version}` : ''}` : null,
              protocol_version: Number(init.protocolVersion),
              load_session: caps.loadSession === true,
              resume_session: caps.sessionCapabilities?.resume !== undefined && caps.sessionCapabilities?.resume !== null,
              auth_methods: (init.authMethods ?? []).map((method) => String((method as { id?: unknown }).id)),
              mcp: { http: caps.mcpCapabilities?.http === true, sse: caps.mcpCapabilities?.sse === true },
            });
          }, reject)
          .finally(() => connection.close());
      };
    });
  }

  start(write: (text: string) => Promise<void>): void {
    this.begin(write);
  }

  /** One line of the agent's stdout; anything that is not JSON is not the handshake's. */
  line(line: string): void {
    try {
      this.incoming?.enqueue(JSON.parse(line) as AnyMessage);
    } catch {
      // a line the agent should not have written; the timeout says it never answered
    }
  }
}
