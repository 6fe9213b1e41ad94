/**
 * The approvals policy of a run: agents.approvals with its runtime's over it, and the decision it
 * makes on a request without asking anyone (a rule, or an allow/deny default). Pure.
 */
import type { ApprovalDefault, AskHuman, Decision } from '../vocabulary.js';
import type { FractaConfig } from './runtime.js';
import type { ApprovalsConfig } from './schema.js';

/** A request nobody answers is denied after this long, unless approvals say otherwise. */
export const DEFAULT_APPROVAL_TIMEOUT_S = 300;

export interface ApprovalPolicy {
  readonly rules: ReadonlyArray<{ readonly tool: string; readonly decision: Decision }>;
  readonly default: ApprovalDefault;
  readonly timeoutS: number;
  readonly onTimeout: Decision;
  readonly askParent: boolean;
  readonly askHuman: AskHuman;
}

/** The policy for a run of `runtime`: its own keys win, its rules come first. */
export function approvalPolicy(config: FractaConfig, runtime: string): ApprovalPolicy {
  const global: ApprovalsConfig = config.approvals;
  const own: ApprovalsConfig = config.runtimes.get(runtime)?.approvals ?? {};
  return {
    rules: [...(own.rules ?? []), ...(global.rules ?? [])],
    default: own.default ?? global.default ?? 'ask',
    timeoutS: own.timeout_s ?? global.timeout_s ?? DEFAULT_APPROVAL_TIMEOUT_S,
    onTimeout: own.on_timeout ?? global.on_timeout ?? 'deny',
    askParent: own.ask_parent ?? global.ask_parent ?? true,
    askHuman: own.ask_human ?? global.ask_human ?? 'auto',
  };
}

/** What a rule's pattern is matched against: a tool's command or path, else its input as JSON. */
export function inputSummary(input: unknown): string {
  if (input && typeof input === 'object') {
    const fields = input as Record<string, unknown>;
    for (const key of ['command', 'file_path', 'path', 'url', 'pattern']) if (typeof fields[key] === 'string') return fields[key] as string;
  }
  return typeof input === 'string' ? input : JSON.stringify(input ?? null);
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 's');
}

/** Whether a rule's `tool` (Name, or Name(pattern)) matches the call. */
export function ruleMatches(rule: string, tool: string, input: unknown): boolean {
  const shaped = /^([^()]+)\((.*)\)$/s.exec(rule);
  if (!shaped) return globToRegExp(rule).test(tool);
  return globToRegExp(shaped[1]!).test(tool) && globToRegExp(shaped[2]!).test(inputSummary(input));
}

/** How the policy decides a permission request without asking: the first rule that matches, else an allow/deny default. */
export function decideByPolicy(policy: ApprovalPolicy, tool: string, input: unknown): { decision: Decision; by: string } | undefined {
  const rule = policy.rules.find((candidate) => ruleMatches(candidate.tool, tool, input));
  if (rule) return { decision: rule.decision, by: `policy rule ${rule.tool}` };
  if (policy.default !== 'ask') return { decision: policy.default, by: `policy default ${policy.default}` };
  return undefined;
}
