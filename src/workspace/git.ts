/**
 * Running git: an argument array (never a shell), a clear error with git's own words on failure.
 * Through execa, which does what a short-lived helper needs (the whole output, the exit code, no
 * stdin); it loads on the first git call, not when fracta starts (most runs never touch git).
 */
import { FractaError, type ErrorCode } from '../errors.js';

export interface GitResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

let execaLoading: Promise<typeof import('execa')> | undefined;

export async function gitRaw(cwd: string, args: readonly string[]): Promise<GitResult> {
  const { execa } = await (execaLoading ??= import('execa'));
  const result = await execa('git', args, {
    cwd,
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    maxBuffer: 64 * 1024 * 1024,
    // No prompts, no pager, no user hooks asking for input: fracta runs unattended.
    env: { GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C' },
  });
  // No exit code: git could not be started (not installed) or was killed; git's own "fatal" is 128.
  return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), code: result.exitCode ?? 128 };
}

export async function git(cwd: string, args: readonly string[], code: ErrorCode = 'workspace_failed'): Promise<string> {
  const result = await gitRaw(cwd, args);
  if (result.code !== 0) {
    throw new FractaError(code, `git ${args.join(' ')} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
  }
  return result.stdout;
}

/** Whether git says another git is holding a lock we need (worth a retry). */
export function isLockContention(stderr: string): boolean {
  return /index\.lock|\.lock'?: File exists|could not lock|unable to create .*\.lock|is locked|another git process/i.test(stderr);
}

/**
 * Whether git tripped over another git changing the list of worktrees at the same moment (one being
 * removed while this one reads them all): gone on a second try.
 */
export function isWorktreeRace(stderr: string): boolean {
  return /failed to read .*worktrees\/.*\/(commondir|gitdir)|worktrees\/.*: No such file or directory/i.test(stderr);
}

/** Runs a git command, retrying while other gits hold the repository's locks. */
export async function gitRetrying(cwd: string, args: readonly string[], tries = 20): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const result = await gitRaw(cwd, args);
    if (result.code === 0) return result.stdout;
    if (attempt >= tries || !(isLockContention(result.stderr) || isWorktreeRace(result.stderr))) {
      throw new FractaError('workspace_failed', `git ${args.join(' ')} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30 * attempt));
  }
}
