/**
 * Cold start: from process start to the `initialize` answer (and to the `tools/list` answer), for
 * `fracta mcp` against the smallest SDK server with one no-op tool; and `fracta --version` and
 * `fracta runtimes` from start to exit, against `node -e ""` (Node's own start).
 *
 * Raw JSON-RPC over the pipes (no client library): the request is written as soon as the process is
 * spawned, the clock stops at the answer's last byte. Variants are interleaved in every round, so a
 * burst of load on the machine hits them alike.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { BENCH, CLI, config, FIXTURES, killQuietly, makeSandbox, NODE, now, onCleanup, paired, rssMb, stats, timedRun } from '../lib.mjs';

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fracta-bench', version: '0' } },
};
const INITIALIZED = { jsonrpc: '2.0', method: 'notifications/initialized' };
const TOOLS_LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

/**
 * Starts a server, sends initialize (then tools/list, then `firstCall` if given), returns the ms from
 * the start to each answer and the first call's own round trip.
 */
function handshake(args, { env, cwd, firstCall }) {
  return new Promise((resolve, reject) => {
    const started = now();
    const child = spawn(NODE, args, { env, cwd, stdio: ['pipe', 'pipe', 'ignore'] });
    onCleanup(() => killQuietly(child.pid));
    const times = {};
    let buffer = '';
    const timer = setTimeout(() => {
      killQuietly(child.pid);
      reject(new Error(`no answer from ${args.join(' ')} in 30 s`));
    }, 30_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        const message = JSON.parse(line);
        if (message.id === 1) {
          times.initialize = now() - started;
          child.stdin.write(`${JSON.stringify(INITIALIZED)}\n${JSON.stringify(TOOLS_LIST)}\n`);
        } else if (message.id === 2 && firstCall) {
          times.toolsList = now() - started;
          times.tools = message.result?.tools?.length ?? 0;
          times.callSent = now();
          child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: firstCall })}\n`);
        } else if (message.id === 2 || message.id === 3) {
          if (message.id === 3) {
            times.firstCall = now() - times.callSent;
            const record = message.result?.structuredContent;
            if (record?.status !== 'succeeded') reject(new Error(`first spawn ended ${record?.status}: ${JSON.stringify(message).slice(0, 300)}`));
          } else {
            times.toolsList = now() - started;
            times.tools = message.result?.tools?.length ?? 0;
          }
          clearTimeout(timer);
          try {
            times.rss = rssMb(child.pid);
          } catch {
            // gone already
          }
          child.stdin.end();
          // Stopped before the next round starts, so no server competes with the next one.
          const kill = setTimeout(() => killQuietly(child.pid), 1_000);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve(times);
          });
        }
      }
    });
    child.stdin.on('error', () => undefined);
    child.once('error', reject);
    child.stdin.write(`${JSON.stringify(INITIALIZE)}\n`);
  });
}

export async function coldStart({ rounds, warmups, log }) {
  const sandbox = makeSandbox(
    'cold',
    config({ tiny: ['adapter: command', `command: ${path.join(FIXTURES, 'tiny.sh')}`, 'output: text'] }, { default_runtime: 'tiny' }),
  );
  const env = sandbox.env;
  const cwd = sandbox.dir;
  const variants = {
    fracta: () =>
      handshake([CLI, 'mcp', '--config', sandbox.configPath], {
        env,
        cwd,
        firstCall: { name: 'spawn', arguments: { task: 'hello', runtime: 'tiny', wait_s: 50 } },
      }),
    floor: () => handshake([path.join(BENCH, 'floor-server.mjs')], { env, cwd }),
    floorMcp: () => handshake([path.join(BENCH, 'floor-server-mcp.mjs')], { env, cwd }),
    version: async () => ({ exit: (await timedRun(NODE, [CLI, '--version'], { env, cwd })).ms }),
    runtimes: async () => ({ exit: (await timedRun(NODE, [CLI, 'runtimes', '--config', sandbox.configPath], { env, cwd })).ms }),
    node: async () => ({ exit: (await timedRun(NODE, ['-e', ''], { env, cwd })).ms }),
  };
  const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (let round = 0; round < warmups + rounds; round++) {
    // Every other round in reverse order, so no variant always runs right after another.
    const order = Object.entries(variants);
    for (const [name, run] of round % 2 ? order.reverse() : order) {
      const result = await run();
      if (round >= warmups) samples[name].push(result);
    }
    log(`cold start: round ${round + 1}/${warmups + rounds}`);
  }
  const pick = (name, field) => stats(samples[name].map((sample) => sample[field]));
  const pair = (a, b, field) => paired(samples[a].map((sample) => sample[field]), samples[b].map((sample) => sample[field]));
  const toolCount = samples.fracta[0]?.tools;
  return [
    {
      section: 'Cold start',
      name: '`fracta mcp`: start → `initialize` answer',
      fracta: pick('fracta', 'initialize'),
      floorName: 'minimal SDK server, 1 no-op tool',
      floor: pick('floor', 'initialize'),
      ...pair('fracta', 'floor', 'initialize'),
      target: { kind: 'ratio', max: 1.15, text: '≤ 1.15× floor' },
      meaning:
        'How long an MCP client (Claude Desktop, Claude Code, Codex) waits for fracta when it starts or restarts its servers.',
    },
    {
      section: 'Cold start',
      name: `\`fracta mcp\`: start → \`tools/list\` answer (${toolCount} tools)`,
      fracta: pick('fracta', 'toolsList'),
      floorName: 'minimal SDK server, 1 no-op tool',
      floor: pick('floor', 'toolsList'),
      ...pair('fracta', 'floor', 'toolsList'),
      target: { kind: 'ratio', max: 1.1, text: '≤ 1.10× floor' },
      meaning: 'When the client can show fracta\'s tools (claude -p gives its servers 5 s): answered from the list made at build time while the core loads.',
    },
    {
      section: 'Cold start',
      name: 'first `spawn` on a fresh server (tiny shell fixture), round trip',
      fracta: pick('fracta', 'firstCall'),
      meaning:
        'The first run after the client started fracta: what is loaded lazily (the runner, the run store, the host adapters) is paid here once. Compare with the warm spawn below.',
    },
    {
      section: 'Cold start',
      name: 'typical SDK server (McpServer + registerTool + zod): start → `initialize`',
      fracta: pick('floorMcp', 'initialize'),
      floorName: 'minimal SDK server, 1 no-op tool',
      floor: pick('floor', 'initialize'),
      ...pair('floorMcp', 'floor', 'initialize'),
      context: true,
      meaning: 'Context, not fracta: what the usual way of writing a small SDK server costs over the floor.',
    },
    {
      section: 'Cold start',
      name: 'server RSS when ready (fracta: after its first spawn; floor: after `tools/list`)',
      unit: 'MB',
      fracta: pick('fracta', 'rss'),
      floorName: 'minimal SDK server, 1 no-op tool',
      floor: pick('floor', 'rss'),
      ...pair('fracta', 'floor', 'rss'),
      context: true,
      meaning: 'The memory fracta holds while it sits in the client, next to the smallest SDK server.',
    },
    {
      section: 'Cold start',
      name: '`fracta --version`: start → exit',
      fracta: pick('version', 'exit'),
      floorName: '`node -e ""`',
      floor: pick('node', 'exit'),
      ...pair('version', 'node', 'exit'),
      meaning: 'The smallest thing the CLI does: Node\'s own start plus reading package.json.',
    },
    {
      section: 'Cold start',
      name: '`fracta runtimes`: start → exit',
      fracta: pick('runtimes', 'exit'),
      floorName: '`node -e ""`',
      floor: pick('node', 'exit'),
      ...pair('runtimes', 'node', 'exit'),
      meaning: 'A CLI command that loads and validates fracta.yaml and looks each runtime\'s CLI up on PATH.',
    },
  ];
}

