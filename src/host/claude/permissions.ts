/**
 * Claude's tool permissions: the runtime's `permissions` block is the ceiling, and a request's
 * allowed_tools may narrow it, never widen it.
 */
import { FractaError } from '../../errors.js';
import { narrowTools } from '../permissions.js';

export const PERMISSION_MODES = ['acceptEdits', 'auto', 'bypassPermissions', 'default', 'dontAsk', 'plan'] as const;
export type PermissionMode = (typeof PERMISSION_MODES)[number];

export interface Permissions {
  readonly mode?: PermissionMode | undefined;
  readonly allowed_tools?: readonly string[] | undefined;
  readonly disallowed_tools?: readonly string[] | undefined;
}

/** `Bash(git *)` is within `Bash`; a rule is within itself. */
function within(tool: string, ceiling: readonly string[]): boolean {
  return ceiling.includes(tool) || ceiling.some((rule) => !rule.includes('(') && tool.startsWith(`${rule}(`));
}

export function allowedTools(runtime: string, permissions: Permissions | undefined, requested: readonly string[] | undefined): readonly string[] | undefined {
  return narrowTools(runtime, permissions?.allowed_tools, requested, within);
}

/** Claude refuses to bypass permissions as root unless IS_SANDBOX=1; say so before starting it. */
export function checkBypassAsRoot(runtime: string, mode: PermissionMode | undefined, env: Readonly<Record<string, string>>): void {
  if (mode !== 'bypassPermissions') return;
  if (process.getuid?.() !== 0 || env.IS_SANDBOX === '1') return;
  throw new FractaError(
    'config_invalid',
    `runtime "${runtime}" uses permissions.mode bypassPermissions, which claude refuses when it runs as root unless IS_SANDBOX=1 is in its environment: if this machine is a sandbox, add IS_SANDBOX: "1" to the runtime's env in fracta.yaml; otherwise use another mode (acceptEdits, default, dontAsk)`,
    'permissions.mode',
  );
}
