/**
 * The `codex exec` command line. Everything is given as flags and `-c` overrides, so a run needs no
 * config file of its own, and the prompt is always `-` (stdin): codex reads it there whole.
 */
import { FractaError } from '../../errors.js';
import type { CommandInput } from '../host.js';
import { mcpArgs, type RuntimeMcpServer } from './mcp.js';
import { effectiveAllowedTools, sandboxArgs, toolSwitches, type CodexPermissions } from './permissions.js';
import { override, tomlValue } from './toml.js';

export interface CodexProvider {
  readonly id: string;
  readonly name?: string | undefined;
  readonly base_url: string;
  readonly env_key?: string | undefined;
  readonly max_retries?: number | undefined;
}

export interface CodexArgvOptions {
  readonly permissions?: CodexPermissions | undefined;
  readonly mcp_servers: Readonly<Record<string, RuntimeMcpServer>>;
  readonly provider?: CodexProvider | undefined;
  readonly analytics: boolean;
  readonly plugins?: boolean | undefined;
  readonly unbounded_retries: boolean;
  readonly ignore_user_config: boolean;
  readonly config: Readonly<Record<string, unknown>>;
  readonly extra_args: readonly string[];
}

/** Codex thread ids are UUIDs. Anything else is taken as a thread *name*, and an unknown one starts a new session silently. */
const THREAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function checkThreadId(token: string): string {
  if (THREAD_ID.test(token)) return token;
  throw new FractaError(
    'invalid_input',
    `resume_token: "${token.slice(0, 80)}" is not a codex session id (the UUID in thread.started, which fracta returns as resume_token); codex would start a new session instead of resuming`,
    'resume_token',
  );
}

export function codexArgv(runtime: string, options: CodexArgvOptions, input: CommandInput): { args: string[]; warnings: string[] } {
  // Fracta's workspaces are plain folders; without this codex refuses to run outside a git repo.
  const args = ['exec', '--json', '--skip-git-repo-check'];
  // Joined to its flag, so clap reads the request's value as a value whatever it holds.
  if (input.model) args.push(`--model=${input.model}`);
  args.push(...sandboxArgs(options.permissions));
  if (options.ignore_user_config) args.push('--ignore-user-config');
  // Analytics go to ab.chatgpt.com on every run; nothing in a run needs them.
  if (!options.analytics) args.push(...override(['analytics', 'enabled'], false));
  // Plugins sync from github.com and chatgpt.com on every start; off only when asked (a user may rely on them).
  if (options.plugins === false) args.push('--disable', 'plugins');
  // Otherwise an unreachable API keeps codex "waiting for network" forever.
  if (!options.unbounded_retries) args.push('--disable', 'unbounded_connection_retries');
  const provider = options.provider;
  if (provider) {
    const retries = provider.max_retries;
    args.push(
      ...override(['model_provider'], provider.id),
      ...override(['model_providers', provider.id], {
        name: provider.name ?? provider.id,
        base_url: provider.base_url,
        ...(provider.env_key ? { env_key: provider.env_key } : {}),
        // A custom provider never tries the WebSocket transport that the built-in openai one tries first.
        wire_api: 'responses',
        ...(retries !== undefined ? { request_max_retries: retries, stream_max_retries: retries } : {}),
      }),
    );
  }
  const allowed = effectiveAllowedTools(runtime, options.permissions, input.allowedTools);
  const switches = toolSwitches(allowed, Object.keys(options.mcp_servers));
  args.push(...switches.args);
  args.push(...mcpArgs({ servers: options.mcp_servers, toolFilter: switches.mcpTools, withFracta: input.agentMcp, workdir: input.workdir, env: input.env, toolWaitS: input.toolWaitS }));
  for (const [key, value] of Object.entries(options.config)) args.push('-c', `${key}=${tomlValue(value)}`);
  args.push(...options.extra_args);
  // Flags before `resume` apply to it too (resume itself takes no --sandbox).
  if (input.resumeToken) args.push('resume', checkThreadId(input.resumeToken));
  args.push('-');
  return { args, warnings: switches.warnings };
}
