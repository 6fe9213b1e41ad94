/**
 * The `opencode run` command line and environment. The prompt never goes in argv: opencode joins its
 * message arguments and quotes one that has spaces, and a long one breaks exec; it reads stdin instead.
 * Batch and streamed runs are the same command: `--format json` prints events as the agent works.
 */
import path from 'node:path';
import { FractaError } from '../../errors.js';
import type { CommandInput } from '../host.js';
import { inlineConfig, type JsonObject } from './config.js';
import { mcpConfigEnv } from './mcp.js';
import { allowedTools, permissionRules, type Permissions } from './permissions.js';
import { MAX_RETRIES_ENV, RETRY_LIMIT_PLUGIN } from './retry-limit.js';

/** The runtime options the command depends on (see adapter.ts for what each means). */
export interface ArgvOptions {
  readonly agent: string | undefined;
  readonly permissions: Permissions | undefined;
  readonly config: JsonObject;
  readonly hasMcpServers: boolean;
  readonly maxRetries: number | undefined;
  readonly autoupdate: boolean;
  readonly modelsFetch: boolean;
  readonly defaultPlugins: boolean;
  readonly npmOffline: boolean;
  readonly extraArgs: readonly string[];
}

export function opencodeCommand(runtime: string, options: ArgvOptions, input: CommandInput): { args: string[]; env: Record<string, string> } {
  const args = ['run', '--format', 'json', '--dir', input.workdir];
  // Values a request gives are joined to their flag, so yargs reads them as values whatever they hold.
  if (input.resumeToken) args.push(`--session=${input.resumeToken}`);
  // A title of its own spares opencode a model call to make one up (only a new session gets a title).
  else args.push(`--title=fracta ${path.basename(input.workdir)}`);
  if (input.model) {
    // opencode splits provider from model at the first "/"; without one it fails with no useful message.
    if (!/^[^/\s]+\/\S+$/.test(input.model)) {
      throw new FractaError('invalid_input', `model "${input.model}": opencode names a model as provider/model, such as anthropic/claude-sonnet-4-5 or a provider of its config`, 'model');
    }
    args.push(`--model=${input.model}`);
  }
  if (options.agent) args.push('--agent', options.agent);
  if (options.permissions?.auto_approve) args.push('--auto');
  args.push(...options.extraArgs);

  const rules = permissionRules(allowedTools(runtime, options.permissions, input.allowedTools), options.permissions?.denied_tools, input.agentMcp);
  const plugins = options.maxRetries === undefined ? [] : [RETRY_LIMIT_PLUGIN];
  const env: Record<string, string> = {};
  const content = inlineConfig(runtime, input.env, options.config, { agent: options.agent ?? 'build', permission: rules, plugins });
  if (content !== undefined) env.OPENCODE_CONFIG_CONTENT = content;
  if (input.agentMcp || options.hasMcpServers) Object.assign(env, mcpConfigEnv(runtime, input.workdir, input.env));
  if (options.maxRetries !== undefined) env[MAX_RETRIES_ENV] = String(options.maxRetries);
  if (!options.autoupdate) env.OPENCODE_DISABLE_AUTOUPDATE = '1';
  if (!options.modelsFetch) env.OPENCODE_DISABLE_MODELS_FETCH = '1';
  if (!options.defaultPlugins) env.OPENCODE_DISABLE_DEFAULT_PLUGINS = '1';
  if (options.npmOffline) env.npm_config_offline = 'true';
  return { args, env };
}
