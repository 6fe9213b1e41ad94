/**
 * Ready-to-paste client configuration for this very install: the node binary and the CLI by absolute
 * path (so it works before fracta is published or on PATH), the config file in use, and FRACTA_HOME
 * when it is set. The entry goes to stdout, what the client needs beside it (as each real client was
 * seen to need) to stderr, so that `fracta mcp-config --client codex >> ~/.codex/config.toml` works.
 */
import { locateConfig } from '../config/load.js';
import { cliFacts } from '../host/cli-facts.js';
import { referencedVariables } from '../config/env.js';
import { CHILD_TOOL_NAMES, CLIENT_WAIT_CEILINGS_S, FRACTA_ENV, FRACTA_SERVER_NAME, FRACTA_TOOL_NAMES } from '../names.js';
import { selfCommand } from '../self.js';

export const CLIENTS = ['claude-desktop', 'claude-code', 'codex', 'gemini'] as const;
export type Client = (typeof CLIENTS)[number];

/** The variable the HTTP entries read the bearer token from: the token itself is never printed. */
export const TOKEN_VARIABLE = 'FRACTA_MCP_TOKEN';

export interface ServerEntry {
  readonly command: string;
  readonly args: string[];
  readonly env: Record<string, string>;
}

export interface HttpEntry {
  readonly url: string;
  /** Where the token is, for the line that exports it. */
  readonly tokenFile: string | undefined;
}

export interface Printed {
  readonly entry: string;
  /** What the client needs beside the entry, a line each. */
  readonly notes: string[];
}

export function serverEntry(configFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): ServerEntry {
  const self = selfCommand();
  const config = locateConfig(configFlag).path;
  return {
    command: self.command,
    args: [...self.args, 'mcp'],
    env: { ...(config ? { FRACTA_CONFIG: config } : {}), ...(env[FRACTA_ENV.HOME] ? { [FRACTA_ENV.HOME]: env[FRACTA_ENV.HOME]! } : {}) },
  };
}

/** A runtime as far as the entry needs it: its CLI and the variables its env: names. */
export interface RuntimeNeeds {
  readonly command: string;
  readonly adapter: string;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The variables fracta's runtimes read from fracta's environment: what their env: names and the
 * logins of their CLIs. A client that starts servers with a bare environment (codex) must pass these on.
 */
export function neededVariables(runtimes: readonly RuntimeNeeds[]): string[] {
  const names = new Set<string>();
  for (const runtime of runtimes) {
    for (const variable of referencedVariables(runtime.env)) names.add(variable);
    for (const variable of cliFacts(runtime.command, runtime.adapter)?.login?.variables ?? []) names.add(variable);
  }
  return [...names].sort();
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const toml = (value: unknown): string => JSON.stringify(value);

/** codex ends a tool call at tool_timeout_sec: just above its wait ceiling, so a wait comes back first. */
const CODEX_TOOL_TIMEOUT_S = CLIENT_WAIT_CEILINGS_S['codex-mcp-client']! + 30;
/** gemini's per-server timeout, in milliseconds: above its ceiling for the same reason. */
const GEMINI_TIMEOUT_MS = (CLIENT_WAIT_CEILINGS_S['gemini-cli-mcp-client']! + 15) * 1000;
const CLAUDE_ALLOWED = FRACTA_TOOL_NAMES.filter((tool) => !CHILD_TOOL_NAMES.includes(tool)).map((tool) => `mcp__${FRACTA_SERVER_NAME}__${tool}`).join(',');

export function renderClientConfig(client: Client, entry: ServerEntry, variables: readonly string[]): Printed {
  const keysNote = variables.length
    ? `the runtimes read ${variables.join(', ')} from fracta's environment`
    : '';
  switch (client) {
    case 'claude-desktop':
      return {
        entry: JSON.stringify({ mcpServers: { [FRACTA_SERVER_NAME]: entry } }, null, 2),
        notes: [
          'merge into claude_desktop_config.json (Settings > Developer > Edit Config), then restart Claude Desktop',
          ...(keysNote ? [`Claude Desktop starts servers without your shell's environment: ${keysNote}, so add the ones you use to "env"`] : []),
        ],
      };
    case 'claude-code':
      return {
        entry: ['claude', 'mcp', 'add', '--scope', 'user', FRACTA_SERVER_NAME, ...Object.entries(entry.env).flatMap(([key, value]) => ['-e', `${key}=${value}`]), '--', entry.command, ...entry.args]
          .map(shellQuote)
          .join(' '),
        notes: [
          'run it once; Claude Code then starts fracta in every project (--scope user), with your shell\'s environment',
          `headless (claude -p), allow fracta's tools: --allowedTools ${CLAUDE_ALLOWED}`,
        ],
      };
    case 'codex':
      return {
        entry: [
          `[mcp_servers.${FRACTA_SERVER_NAME}]`,
          `command = ${toml(entry.command)}`,
          `args = [${entry.args.map(toml).join(', ')}]`,
          ...(Object.keys(entry.env).length ? [`env = { ${Object.entries(entry.env).map(([key, value]) => `${key} = ${toml(value)}`).join(', ')} }`] : []),
          // codex starts a server with a bare environment: these pass through by name, never by value.
          `env_vars = [${[...new Set([FRACTA_ENV.HOME, ...variables])].filter((name) => !(name in entry.env)).map(toml).join(', ')}]`,
          // codex exec runs with approval policy never: a tool needing approval fails ("approval policy is never").
          'default_tools_approval_mode = "approve"',
          `tool_timeout_sec = ${CODEX_TOOL_TIMEOUT_S}`,
          'startup_timeout_sec = 30',
        ].join('\n'),
        notes: [
          'append to ~/.codex/config.toml (or $CODEX_HOME/config.toml)',
          'default_tools_approval_mode "approve" lets codex exec call fracta (its approval policy is never); env_vars passes your environment on by name',
        ],
      };
    case 'gemini':
      return {
        entry: JSON.stringify({ mcpServers: { [FRACTA_SERVER_NAME]: { ...entry, trust: true, timeout: GEMINI_TIMEOUT_MS } } }, null, 2),
        notes: [
          'merge into ~/.gemini/settings.json (or $GEMINI_CLI_HOME/.gemini/settings.json)',
          'trust: true lets gemini call fracta without a confirmation; headless (gemini -p) offers an untrusted server\'s tools to nobody',
        ],
      };
  }
}

/** The entry for `fracta mcp --http`: each client reads the token from FRACTA_MCP_TOKEN, never from the printed text. */
export function renderHttpConfig(client: Client, http: HttpEntry): Printed {
  const tokenLine = `export ${TOKEN_VARIABLE}="$(cat ${shellQuote(http.tokenFile ?? 'TOKEN-FILE')})"${http.tokenFile ? '' : ' (the file fracta mcp --http --token-file wrote; or paste the token it showed)'}`;
  switch (client) {
    case 'claude-desktop':
      throw new Error('Claude Desktop reaches remote servers only as connectors added in its settings: use the stdio entry (fracta mcp-config) instead');
    case 'claude-code':
      return {
        entry: ['claude', 'mcp', 'add', '--scope', 'user', '--transport', 'http', FRACTA_SERVER_NAME, http.url, '--header'].map(shellQuote).join(' ') + ` "Authorization: Bearer \${${TOKEN_VARIABLE}}"`,
        notes: [`first: ${tokenLine}; the shell puts the token in the header as you add it`, `headless (claude -p), allow fracta's tools: --allowedTools ${CLAUDE_ALLOWED}`],
      };
    case 'codex':
      return {
        entry: [`[mcp_servers.${FRACTA_SERVER_NAME}]`, `url = ${toml(http.url)}`, `bearer_token_env_var = ${toml(TOKEN_VARIABLE)}`, 'default_tools_approval_mode = "approve"', `tool_timeout_sec = ${CODEX_TOOL_TIMEOUT_S}`].join('\n'),
        notes: ['append to ~/.codex/config.toml', `codex reads the token from ${TOKEN_VARIABLE}: ${tokenLine}`],
      };
    case 'gemini':
      return {
        entry: JSON.stringify({ mcpServers: { [FRACTA_SERVER_NAME]: { httpUrl: http.url, headers: { Authorization: `Bearer \${${TOKEN_VARIABLE}}` }, trust: true, timeout: GEMINI_TIMEOUT_MS } } }, null, 2),
        notes: ['merge into ~/.gemini/settings.json', `gemini reads the token from ${TOKEN_VARIABLE}: ${tokenLine}`],
      };
  }
}
