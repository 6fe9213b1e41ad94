#!/usr/bin/env node
/**
 * Starts one MCP server described in a file fracta wrote into a codex workspace:
 *   node mcp-launch.js <file> <name>
 * codex runs this launcher, which runs the real server on the same stdin and stdout: the server's
 * entry, with its environment, stays in a private file instead of on codex's command line (mcp.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

interface Entry {
  command: string;
  args: string[];
  env: Record<string, string>;
}

function fail(message: string): never {
  process.stderr.write(`fracta mcp-launch: ${message}\n`);
  process.exit(2);
}

const [file, name] = process.argv.slice(2);
if (!file || !name) fail('usage: mcp-launch <file> <name>');
let entry: Entry | undefined;
try {
  entry = (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Entry>)[name];
} catch (error) {
  fail(`cannot read ${file}: ${(error as Error).message}`);
}
if (!entry || typeof entry.command !== 'string') fail(`${file} has no server "${name}"`);
const server: Entry = entry;

const child = spawn(server.command, server.args ?? [], { stdio: 'inherit', env: { ...process.env, ...server.env } });
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => fail(`cannot start ${server.command}: ${error.message}`));
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});
