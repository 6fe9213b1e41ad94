/**
 * Workspaces on a user's repository: a git worktree at a base branch on a new branch (the default),
 * a copy of a plain folder, or the checkout itself (inplace, only when asked). Everything that can be
 * wrong is found before a side effect; what the agent changed is read back before cleanup.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { maskSecrets } from '../secrets.js';
import { FractaError } from '../errors.js';
import { branchFor, checkBranchName } from './branch.js';
import { closeNames } from '../did-you-mean.js';
import { git, gitRaw, gitRetrying } from './git.js';

import type { WorkspaceMode } from '../vocabulary.js';

/** Where a run works, as decided before it starts. */
export interface RepoWorkspace {
  readonly mode: WorkspaceMode;
  /** The repository's top folder (or, for copy, the folder copied). */
  readonly repo: string;
  /** The run's branch (worktree), or the branch checked out (inplace); null for a copy. */
  readonly branch: string | null;
  readonly baseBranch: string | null;
  readonly baseCommit: string | null;
  readonly warnings: readonly string[];
}

export interface RepoRequest {
  readonly repo: string;
  readonly baseBranch: string | undefined;
  readonly branch: string | undefined;
  readonly mode: WorkspaceMode | undefined;
  readonly task: string;
  readonly runId: string;
  /** Folders repositories must be under (agents.workspace.allowed_repo_roots), when set. */
  readonly allowedRoots: readonly string[] | undefined;
  /** Values masked out of the task before it names a branch (a branch outlives the run, in the user's repository). */
  readonly secrets: readonly string[];
}

function within(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Refuses a repository (or folder) that is not under one of agents.workspace.allowed_repo_roots. */
function checkAllowedRoot(folder: string, given: string, roots: readonly string[] | undefined): void {
  if (!roots || roots.some((root) => within(folder, fs.existsSync(root) ? fs.realpathSync(root) : path.resolve(root)))) return;
  const whose = folder === given ? folder : `${given} belongs to the repository ${folder}, which`;
  throw new FractaError(
    'invalid_input',
    `repo: ${whose} is outside the folders fracta may work on (agents.workspace.allowed_repo_roots: ${roots.join(', ')}); add the repository's folder there, or give a repository inside one`,
    'repo',
  );
}

async function topLevel(folder: string): Promise<string | undefined> {
  const result = await gitRaw(folder, ['rev-parse', '--show-toplevel']);
  return result.code === 0 ? fs.realpathSync(result.stdout.trim()) : undefined;
}

async function resolveBase(root: string, wanted: string | undefined): Promise<{ name: string | null; commit: string }> {
  const name = wanted ?? ((await gitRaw(root, ['symbolic-ref', '--short', '-q', 'HEAD'])).stdout.trim() || null);
  const ref = name ?? 'HEAD';
  const commit = await gitRaw(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
  if (commit.code === 0) return { name, commit: commit.stdout.trim() };
  const refs = (await gitRaw(root, ['for-each-ref', '--format=%(refname:short)', 'refs/heads', 'refs/remotes', 'refs/tags'])).stdout
    .split('\n')
    .filter(Boolean);
  if (wanted === undefined) {
    throw new FractaError('invalid_input', `repo: ${root} has no commit to start from; commit something first, or give base_branch`, 'repo');
  }
  const close = closeNames(wanted, refs);
  throw new FractaError(
    'invalid_input',
    `base_branch: "${wanted}" does not exist in ${root}${close.length ? `; close names: ${close.join(', ')}` : ' (it has no branches)'}`,
    'base_branch',
  );
}

/** The repository a worktree belongs to (its main checkout), read from the worktree itself. */
export async function repositoryOfWorktree(workdir: string): Promise<string | undefined> {
  const listed = await gitRaw(workdir, ['worktree', 'list', '--porcelain']);
  const main = /^worktree (.+)$/m.exec(listed.stdout)?.[1];
  if (listed.code !== 0 || !main) return undefined;
  try {
    return fs.realpathSync(main);
  } catch {
    return undefined;
  }
}

/** Whether `folder` is the top folder of a git repository (its real path, not a link to one). */
export async function isRepositoryTop(folder: string): Promise<boolean> {
  try {
    return (await topLevel(folder)) === fs.realpathSync(folder) && fs.realpathSync(folder) === path.resolve(folder);
  } catch {
    return false;
  }
}

/** Checks the request against the repository and decides branch and base; no side effects. */
export async function planRepoWorkspace(request: RepoRequest): Promise<RepoWorkspace> {
  const given = path.resolve(request.repo);
  let folder: string;
  try {
    folder = fs.realpathSync(given);
    if (!fs.statSync(folder).isDirectory()) throw new Error('not a folder');
  } catch {
    throw new FractaError('invalid_input', `repo: ${given} is not a folder`, 'repo');
  }
  checkAllowedRoot(folder, folder, request.allowedRoots);
  const mode = request.mode ?? 'worktree';
  if (mode === 'copy') {
    if (request.branch !== undefined || request.baseBranch !== undefined) {
      throw new FractaError('invalid_input', 'branch and base_branch need a git workspace (workspace: worktree or inplace), not a copy', 'workspace');
    }
    return { mode, repo: folder, branch: null, baseBranch: null, baseCommit: null, warnings: [] };
  }
  const root = await topLevel(folder);
  if (!root) {
    throw new FractaError('invalid_input', `repo: ${folder} is not a git repository (for a plain folder, use workspace: copy)`, 'repo');
  }
  // A worktree or an inplace run works on the whole repository, not only the folder given.
  checkAllowedRoot(root, folder, request.allowedRoots);
  const warnings: string[] = [];
  if (mode === 'inplace') {
    if (request.branch !== undefined || request.baseBranch !== undefined) {
      throw new FractaError('invalid_input', 'inplace runs in the checkout as it is: branch and base_branch go with workspace: worktree', 'workspace');
    }
    const base = await resolveBase(root, undefined);
    warnings.push(`workspace inplace: the agent works in ${root} itself; two runs in one checkout at once will collide`);
    return { mode, repo: root, branch: base.name, baseBranch: base.name, baseCommit: base.commit, warnings };
  }
  const base = await resolveBase(root, request.baseBranch);
  const branch = request.branch ?? branchFor(maskSecrets(request.task, request.secrets), request.runId);
  await checkBranchName(branch, root);
  if ((await gitRaw(root, ['show-ref', '--verify', '--quiet', `refs/heads/${branch}`])).code === 0) {
    throw new FractaError('invalid_input', `branch: "${branch}" exists already in ${root}; give another branch name`, 'branch');
  }
  if ((await gitRaw(root, ['status', '--porcelain', '--untracked-files=no'])).stdout.trim()) {
    warnings.push(`${root} has uncommitted changes; the run starts from ${base.name ?? base.commit.slice(0, 12)} without them`);
  }
  return { mode, repo: root, branch, baseBranch: base.name, baseCommit: base.commit, warnings };
}

/** Makes the workspace: the side effect, run just before the agent starts. */
export async function createRepoWorkspace(workspace: RepoWorkspace, workdir: string): Promise<void> {
  if (workspace.mode === 'worktree') {
    if (fs.existsSync(workdir)) throw new FractaError('workspace_failed', `the workspace path ${workdir} exists already`);
    await fsp.mkdir(path.dirname(workdir), { recursive: true });
    // The branch first, then the worktree on it: `worktree add -b` creates the branch and may then
    // fail on a race with another run's worktree being removed, leaving a branch that a retry with
    // -b refuses. This way a retry finds the branch it made and goes on.
    await gitRetrying(workspace.repo, ['branch', '--no-track', '--', workspace.branch!, workspace.baseCommit!]);
    try {
      await gitRetrying(workspace.repo, ['worktree', 'add', '--', workdir, workspace.branch!]);
    } catch (error) {
      await gitRaw(workspace.repo, ['branch', '-D', '--', workspace.branch!]);
      throw error;
    }
  } else if (workspace.mode === 'copy') {
    await fsp.cp(workspace.repo, workdir, { recursive: true, errorOnExist: true, force: false, verbatimSymlinks: true });
  }
}

export interface ChangeSummary {
  readonly commits: Array<{ sha: string; subject: string }>;
  readonly uncommitted: Array<{ status: string; path: string }>;
  readonly diff: { files: Array<{ path: string; insertions: number | null; deletions: number | null }>; insertions: number; deletions: number };
}

/** What the agent changed against the base: its commits, what it left uncommitted, and a diff summary. */
export async function summarizeChanges(workspace: RepoWorkspace, workdir: string): Promise<ChangeSummary | null> {
  if (!workspace.baseCommit || !fs.existsSync(workdir)) return null;
  const log = await git(workdir, ['log', '--format=%H%x1f%s', `${workspace.baseCommit}..HEAD`]);
  const commits = log
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [sha, subject] = line.split('\x1f');
      return { sha: sha!, subject: subject ?? '' };
    });
  const status = await git(workdir, ['status', '--porcelain=v1']);
  const uncommitted = status
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ status: line.slice(0, 2).trim(), path: line.slice(3) }));
  const numstat = await git(workdir, ['diff', '--numstat', workspace.baseCommit]);
  const files = numstat
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [added, removed, ...name] = line.split('\t');
      return { path: name.join('\t'), insertions: added === '-' ? null : Number(added), deletions: removed === '-' ? null : Number(removed) };
    });
  return {
    commits,
    uncommitted,
    diff: {
      files,
      insertions: files.reduce((sum, file) => sum + (file.insertions ?? 0), 0),
      deletions: files.reduce((sum, file) => sum + (file.deletions ?? 0), 0),
    },
  };
}

/**
 * Removes a repository workspace: a worktree is removed and pruned, and its branch deleted only if
 * it holds no commits (else kept, and said so); an inplace run leaves the checkout, minus fracta's
 * folder. Returns whether the branch was kept.
 */
export async function removeRepoWorkspace(workspace: Pick<RepoWorkspace, 'mode' | 'repo' | 'branch' | 'baseCommit'>, workdir: string): Promise<boolean | null> {
  if (workspace.mode === 'inplace') {
    // Only a folder fracta made: a .fracta the repository holds as a link (refused at the start) stays.
    const own = path.join(workdir, '.fracta');
    if (fs.lstatSync(own, { throwIfNoEntry: false })?.isDirectory()) await fsp.rm(own, { recursive: true, force: true });
    return null;
  }
  if (workspace.mode === 'copy') {
    await fsp.rm(workdir, { recursive: true, force: true });
    return null;
  }
  if (fs.existsSync(workdir)) await gitRetrying(workspace.repo, ['worktree', 'remove', '--force', '--', workdir]);
  await gitRetrying(workspace.repo, ['worktree', 'prune']);
  const branch = workspace.branch!;
  const ahead = await gitRaw(workspace.repo, ['rev-list', '--count', `${workspace.baseCommit}..refs/heads/${branch}`]);
  if (ahead.code !== 0) return false;
  if (Number(ahead.stdout.trim()) > 0) return true;
  await gitRetrying(workspace.repo, ['branch', '-D', '--', branch]);
  return false;
}
