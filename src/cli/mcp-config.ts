/**
 * Ready-to-paste client configuration for this very install: the node binary and the CLI by absolute
 * path (so it works before fracta is published or on PATH), and the config file in use, if any.
 */
import { locateConfig } from '../config/load.js';
import { selfCommand } from '../self.js';

export const CLIENTS = ['claude-desktop', 'claude-code', 'codex'] as const;
export type Client = (typeof CLIENTS)[number];

export interface ServerEntry {
  readonly command: string;
  readonly args: string[];
  readonly env: Record<string, string>;
}

export function serverEntry(configFlag: string | undefined): ServerEntry {
  const self = selfCommand();
  const config = locateConfig(configFlag).path;
  return { command: self.command, args: [...self.args, 'mcp'], env: config ? { FRACTA_CONFIG: config } : {} };
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function renderClientConfig(client: Client, entry: ServerEntry): string {
  switch (client) {
    case 'claude-desktop':
      return JSON.stringify({ mcpServers: { fracta: entry } }, null, 2);
    case 'claude-code':
      return [
        'claude',
        'mcp',
        'add',
        'fracta',
        ...Object.entries(entry.env).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
        '--',
        entry.command,
        ...entry.args,
      ]
        .map(shellQuote)
        .join(' ');
    case 'codex': {
      const env = Object.entries(entry.env).map(([key, value]) => `${key} = ${JSON.stringify(value)}`);
      return [
        '[mcp_servers.fracta]',
        `command = ${JSON.stringify(entry.command)}`,
        `args = [${entry.args.map((arg) => JSON.stringify(arg)).join(', ')}]`,
        ...(env.length ? [`env = { ${env.join(', ')} }`] : []),
      ].join('\n');
    }
  }
}
