import { describe, expect, it } from 'vitest';
import { approvalPolicy, decideByPolicy, inputSummary, ruleMatches } from '../src/config/approvals.js';
import { parseConfig } from '../src/config/load.js';
import { ADAPTERS } from '../src/host/adapters.js';

const config = parseConfig(
  {
    agents: {
      approvals: { rules: [{ tool: 'Bash(git *)', decision: 'allow' }, { tool: 'Write', decision: 'deny' }], timeout_s: 60 },
      agent_runtimes: {
        strict: { adapter: 'command', command: 'x', approvals: { rules: [{ tool: 'Bash(git push*)', decision: 'deny' }], default: 'deny', ask_parent: false, ask_human: 'never' } },
        plain: { adapter: 'command', command: 'x' },
      },
    },
  },
  null,
  ADAPTERS,
);

describe('approvals policy', () => {
  it('matches a rule on the tool name, and Name(pattern) on the command or path with * for anything', () => {
    expect(ruleMatches('Bash(git *)', 'Bash', { command: 'git status' })).toBe(true);
    expect(ruleMatches('Bash(git *)', 'Bash', { command: 'rm -rf /; git status' })).toBe(false);
    expect(ruleMatches('Bash(git *)', 'Edit', { command: 'git status' })).toBe(false);
    expect(ruleMatches('Edit(src/*)', 'Edit', { file_path: 'src/a.ts' })).toBe(true);
    expect(ruleMatches('mcp__*', 'mcp__github__create_issue', {})).toBe(true);
    // Regular-expression characters in a rule are literal.
    expect(ruleMatches('Bash(a.b)', 'Bash', { command: 'axb' })).toBe(false);
    expect(inputSummary({ other: 1 })).toBe('{"other":1}');
  });

  it("a runtime's keys win, its rules come first, and the rest falls back to agents.approvals and the defaults", () => {
    const strict = approvalPolicy(config, 'strict');
    expect(strict).toMatchObject({ default: 'deny', timeoutS: 60, onTimeout: 'deny', askParent: false, askHuman: 'never' });
    expect(decideByPolicy(strict, 'Bash', { command: 'git push origin main' })).toEqual({ decision: 'deny', by: 'policy rule Bash(git push*)' });
    expect(decideByPolicy(strict, 'Bash', { command: 'git status' })).toEqual({ decision: 'allow', by: 'policy rule Bash(git *)' });
    expect(decideByPolicy(strict, 'Read', {})).toEqual({ decision: 'deny', by: 'policy default deny' });

    const plain = approvalPolicy(config, 'plain');
    expect(plain).toMatchObject({ default: 'ask', timeoutS: 60, askParent: true, askHuman: 'auto' });
    expect(decideByPolicy(plain, 'Write', { file_path: 'x' })).toEqual({ decision: 'deny', by: 'policy rule Write' });
    // Nothing decides it: it is asked.
    expect(decideByPolicy(plain, 'Read', {})).toBeUndefined();
  });

  it('with no approvals configured: ask, 300 s, deny on timeout', () => {
    const bare = approvalPolicy(parseConfig({}, null, ADAPTERS), 'claude');
    expect(bare).toEqual({ rules: [], default: 'ask', timeoutS: 300, onTimeout: 'deny', askParent: true, askHuman: 'auto' });
  });

  it('a bad approvals block is a config error naming the key', () => {
    expect(() => parseConfig({ agents: { approvals: { default: 'maybe' } } }, null, ADAPTERS)).toThrow(/agents\.approvals\.default: unknown approval default \(use ask, allow, deny\)/);
    expect(() => parseConfig({ agents: { approvals: { rules: [{ tool: 'Bash', decision: 'yes' }] } } }, null, ADAPTERS)).toThrow(/agents\.approvals\.rules\[0\]\.decision: unknown decision \(use allow, deny\)/);
  });
});
