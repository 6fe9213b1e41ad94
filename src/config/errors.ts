import type { z } from 'zod';

/** Renders a config path the way a person reads YAML: `agents.agent_runtimes.x.env[0].name`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    if ((issue as { input?: unknown }).input === undefined) return 'is required';
    if (issue.message.startsWith('Invalid input')) return `must be ${article(issue.expected)}`;
  }
  return issue.message;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/** One line per problem, each naming the field: `prefix: path: message`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: ReadonlyArray<PropertyKey>): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const base = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...base, key])}: ${issue.message}`);
    } else {
      lines.push(`${formatPath(base)}: ${describeIssue(issue)}`);
    }
  }
  return lines;
}
