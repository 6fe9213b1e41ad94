/** Branch names fracta makes from a task, and the checks a caller's own branch name must pass. */
import { FractaError } from '../errors.js';
import { gitRaw } from './git.js';

/** `fracta/fix-login-bug-1a2b3c`: readable, safe for any shell or ref, unique by the run id. */
export function branchFor(task: string, runId: string): string {
  const slug = task
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return `fracta/${slug || 'task'}-${runId.slice(-8)}`;
}

/** Refuses a name git would refuse, or one that could be read as an option or a path trick. */
export async function checkBranchName(name: string, cwd: string): Promise<void> {
  const problem =
    name.startsWith('-') ? 'it starts with "-"'
    : /\s/.test(name) ? 'it holds white space'
    : name.includes('..') ? 'it holds ".."'
    : name.includes('@{') ? 'it holds "@{"'
    : /[~^:?*[\\\x00-\x1f\x7f]/.test(name) ? 'it holds a character git does not allow in a branch (~ ^ : ? * [ \\ or a control character)'
    : undefined;
  if (problem) throw new FractaError('invalid_input', `branch: "${name}" is not a usable branch name: ${problem}`, 'branch');
  const check = await gitRaw(cwd, ['check-ref-format', '--branch', name]);
  if (check.code !== 0) throw new FractaError('invalid_input', `branch: "${name}" is not a valid git branch name`, 'branch');
}
