/**
 * Gemini's tool permissions. In headless mode the CLI neither offers nor runs a tool its policy would
 * ask about: with the default approval mode only the read-only tools are there, and `--allowed-tools`
 * adds the ones named (`run_shell_command(git)` allows commands that start with `git`). The runtime's
 * `permissions` block is the ceiling; a request's allowed_tools may narrow it, never widen it.
 */
import { FractaError } from '../../errors.js';
import { narrowTools } from '../permissions.js';

export const APPROVAL_MODES = ['default', 'auto_edit', 'yolo', 'plan'] as const;
export type ApprovalMode = (typeof APPROVAL_MODES)[number];

export interface Permissions {
  readonly approval_mode?: ApprovalMode | undefined;
  readonly allowed_tools?: readonly string[] | undefined;
  readonly exclude_tools?: readonly string[] | undefined;
}

/** What the CLI is told: its approval mode and the tools that run without asking. */
export interface EffectivePermissions {
  readonly mode: ApprovalMode | undefined;
  readonly allowedTools: readonly string[] | undefined;
  readonly warnings: readonly string[];
}

const RULE = /^([A-Za-z0-9_-]+)(?:\((.*)\))?$/s;

/** `run_shell_command(git status)` is within `run_shell_command(git)` and `run_shell_command`; a rule is within itself. */
function within(tool: string, ceiling: readonly string[]): boolean {
  if (ceiling.includes(tool)) return true;
  const asked = RULE.exec(tool);
  if (!asked) return false;
  return ceiling.some((rule) => {
    const allowed = RULE.exec(rule);
    if (!allowed || allowed[1] !== asked[1]) return false;
    if (allowed[2] === undefined) return true;
    if (asked[2] === undefined) return false;
    // Gemini matches shell rules by command prefix, at a word boundary.
    return asked[2] === allowed[2] || asked[2].startsWith(`${allowed[2]} `);
  });
}

function checkNames(tools: readonly string[]): void {
  // The CLI splits --allowed-tools values at commas, so such a rule would not mean what it says.
  const split = tools.filter((tool) => tool.includes(','));
  if (split.length > 0) {
    throw new FractaError(
      'invalid_input',
      `allowed_tools: ${split.map((tool) => `"${tool}"`).join(', ')} cannot be given to gemini, which splits tool names at commas; name each tool (or command prefix) separately`,
      'allowed_tools',
    );
  }
}

export function effectivePermissions(runtime: string, permissions: Permissions | undefined, requested: readonly string[] | undefined): EffectivePermissions {
  const ceiling = permissions?.allowed_tools;
  const mode = permissions?.approval_mode;
  if (requested === undefined) return { mode, allowedTools: ceiling, warnings: [] };
  checkNames(requested);
  narrowTools(runtime, ceiling, requested, within);
  // yolo and auto_edit approve tools the list leaves out; the default mode runs only what it names.
  if (mode === 'yolo' || mode === 'auto_edit') {
    return {
      mode: 'default',
      allowedTools: requested,
      warnings: [`runtime "${runtime}" runs gemini with approval_mode ${mode}; this run used the default mode instead, so that only the tools in allowed_tools run`],
    };
  }
  return { mode, allowedTools: requested, warnings: [] };
}
