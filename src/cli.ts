#!/usr/bin/env node
/**
 * The fracta command. Each subcommand loads only what it needs, so `fracta --version` and the MCP
 * server start fast.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { VERSION } from './version.js';

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** How many arguments it takes; `some` is one or more (run ids), `any` none or more. */
  readonly positionals: number | 'some' | 'any';
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number>;
}

const common = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function service(values: Record<string, unknown>) {
  const { Fracta } = await import('./service.js');
  return new Fracta({ configPath: values.config as string | undefined });
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function json(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** The --budget-* flags as a spawn's budget; a value that is not a number is passed on for the request's check to name. */
function budgetFlags(values: Record<string, unknown>): Record<string, unknown> | undefined {
  const flags = { usd: 'budget-usd', tokens: 'budget-tokens', turns: 'budget-turns', wall_s: 'budget-s', runs: 'budget-runs' } as const;
  const budget: Record<string, unknown> = {};
  for (const [key, flag] of Object.entries(flags)) {
    const value = values[flag];
    if (typeof value === 'string') budget[key] = value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return Object.keys(budget).length > 0 ? budget : undefined;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const COMMANDS: Record<string, Command> = {
  mcp: {
    summary: 'Serve fracta over MCP on stdio (for Claude Desktop, Claude Code, Codex, any MCP client), or over HTTP for several clients',
    usage:
      'fracta mcp [--config PATH]\n' +
      '       fracta mcp --http [HOST:]PORT [--token-file PATH] [--allow-remote] [--allow-origin ORIGIN]... [--config PATH]\n' +
      '  --http          serve MCP Streamable HTTP at http://HOST:PORT/mcp (HOST 127.0.0.1 unless given)\n' +
      '  --token-file    the bearer token clients must send (made there, mode 0600, if the file is new);\n' +
      '                  without it a token is made for this process and shown once on stderr\n' +
      '  --allow-remote  serve on an address that is not loopback (the token is still required)\n' +
      '  --allow-origin  a browser origin allowed to call, besides the server\'s own',
    options: { ...common, http: { type: 'string' }, 'token-file': { type: 'string' }, 'allow-remote': { type: 'boolean' }, 'allow-origin': { type: 'string', multiple: true } },
    positionals: 0,
    async run(values) {
      const configPath = values.config as string | undefined;
      if (values.http === undefined) {
        for (const flag of ['token-file', 'allow-remote', 'allow-origin']) if (values[flag] !== undefined) throw usageError('mcp', `--${flag} needs --http`);
        const { runMcpServer } = await import('./mcp/server.js');
        await runMcpServer({ configPath });
        return -1; // keep serving
      }
      const { HttpUsageError, loadToken, parseListen, runHttpServer } = await import('./mcp/http.js');
      try {
        const listen = parseListen(values.http as string);
        const { token, generated, wrote } = loadToken(values['token-file'] as string | undefined);
        const origins = (values['allow-origin'] as unknown as string[] | undefined) ?? [];
        // The generated token is shown here once, and only here: nothing else fracta writes ever holds it.
        const banner = generated
          ? `fracta: bearer token for this server (shown once; clients send "Authorization: Bearer TOKEN"; --token-file keeps one across restarts):\n${token}\n`
          : wrote
            ? `fracta: wrote a new bearer token to ${wrote} (mode 0600)\n`
            : undefined;
        await runHttpServer({ configPath }, { ...listen, token, allowRemote: values['allow-remote'] === true, allowedOrigins: origins, banner });
      } catch (error) {
        if (error instanceof HttpUsageError) throw usageError('mcp', error.message);
        throw error;
      }
      return -1; // keep serving
    },
  },
  'mcp-config': {
    summary: 'Print ready-to-paste MCP client config for this install (claude-desktop, claude-code, codex, gemini)',
    usage:
      'fracta mcp-config [--client claude-desktop|claude-code|codex|gemini] [--http [HOST:]PORT [--token-file PATH]] [--config PATH]\n' +
      '  --http   the entry for a running fracta mcp --http (the token is read from FRACTA_MCP_TOKEN, never printed)\n' +
      'the entry goes to stdout, what the client needs beside it to stderr',
    options: { ...common, client: { type: 'string' }, http: { type: 'string' }, 'token-file': { type: 'string' } },
    positionals: 0,
    async run(values) {
      const { CLIENTS, neededVariables, renderClientConfig, renderHttpConfig, serverEntry } = await import('./cli/mcp-config.js');
      const { didYouMean } = await import('./did-you-mean.js');
      const client = (values.client ?? 'claude-desktop') as (typeof CLIENTS)[number];
      if (!CLIENTS.includes(client)) throw usageError('mcp-config', `unknown client "${client}"${didYouMean(client, CLIENTS)} (use ${CLIENTS.join(', ')})`);
      let printed;
      if (values.http !== undefined) {
        const { parseListen, MCP_PATH, HttpUsageError } = await import('./mcp/http.js');
        try {
          const { host, port } = parseListen(values.http as string);
          const path = await import('node:path');
          const tokenFile = values['token-file'] === undefined ? undefined : path.resolve(values['token-file'] as string);
          printed = renderHttpConfig(client, { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${MCP_PATH}`, tokenFile });
        } catch (error) {
          if (error instanceof HttpUsageError || error instanceof Error) throw usageError('mcp-config', error.message);
          throw error;
        }
      } else {
        if (values['token-file'] !== undefined) throw usageError('mcp-config', '--token-file needs --http');
        const fracta = await service(values);
        let needs: Array<{ command: string; adapter: string; env: Record<string, string> }> = [];
        try {
          const config = fracta.config();
          needs = fracta.runtimes().map((runtime) => ({ command: runtime.command, adapter: runtime.host, env: { ...config.runtimes.get(runtime.name)?.env } }));
        } catch (error) {
          process.stderr.write(`fracta: ${(error as Error).message}\n`);
        }
        printed = renderClientConfig(client, serverEntry(values.config as string | undefined), neededVariables(needs));
      }
      print(printed.entry);
      for (const note of printed.notes) process.stderr.write(`# ${note}\n`);
      return 0;
    },
  },
  spawn: {
    summary: 'Run an agent on a task, wait for it, print its result',
    usage:
      'fracta spawn --task TEXT|- [--runtime NAME] [--model M] [--tier heavy|medium|light] [--contract TEXT]\n' +
      '             [--resume-token T | --resume-run RUN_ID] [--allowed-tool TOOL]... [--agent-mcp]\n' +
      '             [--repo PATH [--base-branch B] [--branch NAME] [--workspace worktree|copy|inplace]]\n' +
      '             [--backend local|kubernetes]\n' +
      '             [--budget-usd N] [--budget-tokens N] [--budget-turns N] [--budget-s SECONDS] [--budget-runs N]\n' +
      '             [--timeout SECONDS] [--cleanup keep|on_success|always] [--json] [--config PATH]\n' +
      '  --task -   reads the task from stdin (for long prompts)',
    options: {
      ...common,
      task: { type: 'string', short: 't' },
      runtime: { type: 'string', short: 'r' },
      model: { type: 'string', short: 'm' },
      tier: { type: 'string' },
      contract: { type: 'string' },
      'resume-token': { type: 'string' },
      'resume-run': { type: 'string' },
      'allowed-tool': { type: 'string', multiple: true },
      'agent-mcp': { type: 'boolean' },
      repo: { type: 'string' },
      'base-branch': { type: 'string' },
      branch: { type: 'string' },
      workspace: { type: 'string' },
      backend: { type: 'string' },
      timeout: { type: 'string' },
      cleanup: { type: 'string' },
      'budget-usd': { type: 'string' },
      'budget-tokens': { type: 'string' },
      'budget-turns': { type: 'string' },
      'budget-s': { type: 'string' },
      'budget-runs': { type: 'string' },
      json: { type: 'boolean' },
    },
    positionals: 0,
    async run(values) {
      if (values.task === undefined) throw usageError('spawn', 'give the task with --task TEXT (or --task - to read it from stdin)');
      const task = values.task === '-' ? await readStdin() : (values.task as string);
      const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
      const fracta = await service(values);
      // Ctrl-C stops the agent too: a CLI run belongs to this terminal. A signal that comes while the
      // run is starting is kept and acted on once its id is known.
      let runId: string | undefined;
      let interrupted = false;
      const interrupt = () => {
        interrupted = true;
        if (runId) void fracta.cancel({ run_id: runId });
      };
      process.on('SIGINT', interrupt);
      process.on('SIGTERM', interrupt);
      process.on('SIGHUP', interrupt);
      const { record: started } = await fracta.start({
        task,
        runtime: values.runtime,
        model: values.model,
        tier: values.tier,
        contract: values.contract,
        resume_token: values['resume-token'],
        resume_run: values['resume-run'],
        allowed_tools: values['allowed-tool'],
        agent_mcp: values['agent-mcp'],
        repo: values.repo,
        base_branch: values['base-branch'],
        branch: values.branch,
        workspace: values.workspace,
        backend: values.backend,
        timeout_s: timeout,
        cleanup: values.cleanup,
        budget: budgetFlags(values),
      });
      runId = started.run_id;
      if (interrupted) interrupt();
      const record = await fracta.waitForEnd(started.run_id);
      if (values.json) json(record);
      else if (record.status === 'succeeded') {
        for (const warning of record.warnings) process.stderr.write(`fracta: warning: ${warning}\n`);
        print(record.output ?? '');
      } else {
        process.stderr.write(`fracta: run ${record.run_id} ${record.status}: [${record.error?.code}] ${record.error?.message}\n`);
        if (record.output) print(record.output);
      }
      return record.status === 'succeeded' ? 0 : 1;
    },
  },
  runtimes: {
    summary: 'List runtimes: host, tier, capabilities, models, and whether the CLI is installed',
    usage: 'fracta runtimes [--probe] [--json] [--config PATH]\n  --probe   starts each ACP agent once, asks what it can (initialize), keeps the answer',
    options: { ...common, json: { type: 'boolean' }, probe: { type: 'boolean' } },
    positionals: 0,
    async run(values) {
      const fracta = await service(values);
      const config = fracta.config();
      if (values.probe) {
        for (const probe of await fracta.probe()) if (probe.error) process.stderr.write(`fracta: runtime ${probe.runtime}: ${probe.error}\n`);
      }
      const runtimes = fracta.runtimes();
      if (values.json) json({ default_runtime: config.defaultRuntime, config_source: config.source ?? 'built-in defaults', runtimes });
      else {
        const { formatRuntimes } = await import('./cli/format.js');
        print(formatRuntimes(runtimes, config.source ?? 'built-in defaults (no fracta.yaml found)'));
      }
      return 0;
    },
  },
  board: {
    summary: 'Serve a live page of every run under FRACTA_HOME (tree, logs, requests), on 127.0.0.1',
    usage:
      'fracta board [--port N] [--open] [--config PATH]\n' +
      '  --port   the port (default: a free one)\n' +
      '  --open   open the page in the browser\n' +
      'the URL it prints holds the token every request needs',
    options: { ...common, port: { type: 'string' }, open: { type: 'boolean' } },
    positionals: 0,
    async run(values) {
      const port = values.port === undefined ? 0 : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535) throw usageError('board', `--port: "${values.port}" is not a port (0 to 65535)`);
      const fracta = await service(values);
      const { startBoard } = await import('./board/server.js');
      const board = await startBoard(fracta, { port, home: fracta.home() });
      process.stderr.write(`fracta board: ${board.url}\n`);
      if (values.open) {
        const { openInBrowser } = await import('./board/open.js');
        openInBrowser(board.url);
      }
      const stop = () => void board.close().then(() => process.exit(0));
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, stop);
      return -1; // keep serving
    },
  },
  doctor: {
    summary: 'Check that runtimes work: CLI and version, variables, login, cluster; --run tries each for real',
    usage:
      'fracta doctor [RUNTIME...] [--run] [--json] [--config PATH]\n' +
      '  RUNTIME   the runtimes to check (default: every configured one)\n' +
      '  --run     also run a one-line task on each, with its time and cost\n' +
      'exit 0 only when everything checked works',
    options: { ...common, run: { type: 'boolean' }, json: { type: 'boolean' } },
    positionals: 'any',
    async run(values, names) {
      const fracta = await service(values);
      const { doctor, formatDoctor } = await import('./cli/doctor.js');
      const report = await doctor(fracta, { runtimes: names, run: values.run === true, env: process.env });
      if (values.json) json(report);
      else print(formatDoctor(report));
      return report.ok ? 0 : 1;
    },
  },
  runs: {
    summary: 'List recent runs, newest first',
    usage: 'fracta runs [--status STATUS] [--limit N] [--json]',
    options: { ...common, status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
    positionals: 0,
    async run(values) {
      const fracta = await service(values);
      const runs = await fracta.runs({ status: values.status, limit: values.limit === undefined ? undefined : Number(values.limit) });
      if (values.json) json({ runs });
      else print((await import('./cli/format.js')).formatRuns(runs));
      return 0;
    },
  },
  status: {
    summary: "Show a run's record",
    usage: 'fracta status RUN_ID [--json]',
    options: { ...common, json: { type: 'boolean' } },
    positionals: 1,
    async run(values, [runId]) {
      const record = await (await service(values)).status({ run_id: runId });
      if (values.json) json(record);
      else print((await import('./cli/format.js')).formatRecord(record));
      return 0;
    },
  },
  wait: {
    summary: 'Wait for one run or several to end (or need input), and print each one\'s status',
    usage:
      'fracta wait RUN_ID... [--all] [--timeout SECONDS] [--json]\n' +
      '  --all       wait until every run is ready (default: until the first is)\n' +
      '  --timeout   give up after this many seconds (default and at most 3600); exit 124 if nothing was ready',
    options: { ...common, all: { type: 'boolean' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
    positionals: 'some',
    async run(values, runIds) {
      const fracta = await service(values);
      const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
      const result = await fracta.waitRuns({ run_ids: runIds, mode: values.all ? 'all' : 'any', ...(timeout === undefined ? {} : { timeout_s: Number.isFinite(timeout) ? timeout : values.timeout }) });
      if (values.json) json(result);
      else print((await import('./cli/format.js')).formatWait(result));
      const met = result.mode === 'all' ? result.ready.length === result.runs.length : result.ready.length > 0;
      if (!met) return 124;
      const ready = result.runs.filter((run) => result.ready.includes(run.run_id));
      return ready.every((run) => run.status === 'succeeded' || run.needs_input || run.awaiting_input) ? 0 : 1;
    },
  },
  logs: {
    summary: "Print a run's output log (or its stderr)",
    usage: 'fracta logs RUN_ID [--stderr]',
    options: { ...common, stderr: { type: 'boolean' } },
    positionals: 1,
    async run(values, [runId]) {
      const fracta = await service(values);
      const handle = await fracta.openLog(runId!, values.stderr ? 'stderr' : 'stdout');
      if (!handle) return 0;
      const { pipeline } = await import('node:stream/promises');
      await pipeline(handle.createReadStream(), process.stdout, { end: false });
      return 0;
    },
  },
  send: {
    summary: 'Send the next message to a live session (a run spawned with stream: true) and print the answer',
    usage: 'fracta send RUN_ID TEXT [--wait SECONDS] [--json]',
    options: { ...common, wait: { type: 'string' }, json: { type: 'boolean' } },
    positionals: 2,
    async run(values, [runId, message]) {
      const fracta = await service(values);
      const record = await fracta.send({ run_id: runId, message, wait_s: values.wait === undefined ? undefined : Number(values.wait) });
      if (values.json) json(record);
      else if (record.awaiting_input || record.status === 'succeeded') print(record.output ?? '');
      else print(`run ${record.run_id}: ${record.status}${record.error ? ` [${record.error.code}] ${record.error.message}` : ''}`);
      return record.status === 'running' || record.status === 'succeeded' ? 0 : 1;
    },
  },
  answer: {
    summary: "Decide a run's pending permission request or answer its question (see needs_input in status)",
    usage: 'fracta answer RUN_ID REQUEST_ID allow|deny [--message TEXT] [--scope once|run] [--json]',
    options: { ...common, message: { type: 'string' }, scope: { type: 'string' }, json: { type: 'boolean' } },
    positionals: 3,
    async run(values, [runId, requestId, decision]) {
      const record = await (await service(values)).answer({ run_id: runId, request_id: requestId, decision, message: values.message, scope: values.scope });
      if (values.json) json(record);
      else print(`run ${record.run_id}: request ${requestId} decided (${decision}); ${record.pending_requests.length} still pending`);
      return 0;
    },
  },
  close: {
    summary: 'Close a live session; its last answer becomes the result',
    usage: 'fracta close RUN_ID [--json]',
    options: { ...common, json: { type: 'boolean' } },
    positionals: 1,
    async run(values, [runId]) {
      const record = await (await service(values)).close({ run_id: runId });
      if (values.json) json(record);
      else print(`run ${record.run_id}: ${record.status}`);
      return record.status === 'succeeded' ? 0 : 1;
    },
  },
  clean: {
    summary: 'Remove the workspaces of runs that ended long enough ago (never a running one)',
    usage: 'fracta clean [--older-than SECONDS] [--json]',
    options: { ...common, 'older-than': { type: 'string' }, json: { type: 'boolean' } },
    positionals: 0,
    async run(values) {
      const olderThan = values['older-than'];
      const report = await (await service(values)).clean({ older_than_s: olderThan === undefined ? undefined : Number(olderThan) });
      if (values.json) json(report);
      else print(`removed ${report.removed.length} workspace(s)${report.failed.map((f) => `\n${f.run_id}: ${f.message}`).join('')}`);
      return report.failed.length === 0 ? 0 : 1;
    },
  },
  cancel: {
    summary: 'Stop a run and its whole process tree',
    usage: 'fracta cancel RUN_ID [--json]',
    options: { ...common, json: { type: 'boolean' } },
    positionals: 1,
    async run(values, [runId]) {
      const record = await (await service(values)).cancel({ run_id: runId });
      if (values.json) json(record);
      else print(`run ${record.run_id}: ${record.status}`);
      return 0;
    },
  },
};

class UsageError extends Error {}

function usageError(command: string, message: string): UsageError {
  return new UsageError(`fracta ${command}: ${message}\nusage: ${COMMANDS[command]!.usage}`);
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    `fracta ${VERSION}: lets one agent spawn another`,
    '',
    'usage: fracta <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`),
    '',
    'Every command takes --config PATH (else FRACTA_CONFIG, ./fracta.yaml, $FRACTA_HOME/fracta.yaml, built-in defaults)',
    'and --help. State lives in $FRACTA_HOME (default ~/.fracta).',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    print(topic && COMMANDS[topic] ? `usage: ${COMMANDS[topic]!.usage}` : mainHelp());
    return 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    print(VERSION);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const { didYouMean } = await import('./did-you-mean.js');
    process.stderr.write(`fracta: unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS))} (use ${Object.keys(COMMANDS).join(', ')}; fracta --help)\n`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`fracta ${name}: ${(error as Error).message}\nusage: ${command.usage}\n`);
    return 2;
  }
  if (parsed.values.help) {
    print(`${command.summary}\n\nusage: ${command.usage}`);
    return 0;
  }
  const count = parsed.positionals.length;
  if (command.positionals === 'some' ? count === 0 : command.positionals !== 'any' && count !== command.positionals) {
    const expected = typeof command.positionals !== 'number' ? 'one run id or more' : ['no arguments', 'a run id', 'a run id and a message', 'a run id, a request id and allow or deny'][command.positionals];
    process.stderr.write(`fracta ${name}: expected ${expected}, got ${count}\nusage: ${command.usage}\n`);
    return 2;
  }
  try {
    return await command.run(parsed.values as Record<string, string | boolean | string[] | undefined>, parsed.positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    const code = (error as { code?: unknown }).code;
    process.stderr.write(`fracta: ${typeof code === 'string' ? `[${code}] ` : ''}${(error as Error).message}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
