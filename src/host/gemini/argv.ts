/**
 * The gemini command line shared by batch and stream runs. The prompt is never an argument: it goes
 * on stdin, which gemini reads as the prompt when no -p is given (a long prompt, or one starting
 * with "-", breaks as an argument).
 */
import type { CommandInput } from '../host.js';
import { runHome } from './home.js';
import { effectivePermissions, type Permissions } from './permissions.js';

export type OutputFormat = 'json' | 'stream-json';

export interface ArgvOptions {
  readonly permissions?: Permissions | undefined;
  readonly extra_args: readonly string[];
}

export interface GeminiCommand {
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly warnings: readonly string[];
}

export function geminiArgv(runtime: string, options: ArgvOptions, input: CommandInput, format: OutputFormat, mcpServerNames: readonly string[]): GeminiCommand {
  const permissions = effectivePermissions(runtime, options.permissions, input.allowedTools);
  // Without --skip-trust a headless run in a folder never trusted before exits 55.
  const args = ['--skip-trust', '--output-format', format];
  // Values a request gives are joined to their flag (`--model=x`), so yargs reads them as values
  // whatever they hold (`--model --yolo` would be two flags).
  if (input.model) args.push(`--model=${input.model}`);
  // The id from init/result; gemini finds it only among the sessions of the cwd's project.
  if (input.resumeToken) args.push(`--resume=${input.resumeToken}`);
  if (permissions.mode) args.push('--approval-mode', permissions.mode);
  for (const tool of permissions.allowedTools ?? []) args.push(`--allowed-tools=${tool}`);
  // Only fracta's servers: a workspace's own .gemini/settings.json may name others.
  if (mcpServerNames.length > 0) args.push('--allowed-mcp-server-names', mcpServerNames.join(','));
  args.push(...options.extra_args);
  return { args, env: { GEMINI_CLI_HOME: runHome(input.workdir) }, warnings: permissions.warnings };
}
