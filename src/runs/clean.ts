/**
 * `fracta clean`: removes the workspaces of runs that ended long enough ago (a worktree the git way,
 * keeping a branch that holds commits), never one a running run uses.
 */
import fs from 'node:fs';
import { removeWorkspace } from './workspace.js';
import { repositoryOfWorktree } from '../workspace/repo.js';
import { isTerminal, type RunRecord } from '../record.js';
import type { RunStore } from './store.js';

export interface CleanReport {
  readonly removed: string[];
  readonly failed: Array<{ run_id: string; message: string }>;
}

function sameFolder(a: string, b: string): boolean {
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}

export async function cleanWorkspaces(store: RunStore, olderThanMs: number): Promise<CleanReport> {
  const records = await store.list({ limit: Number.MAX_SAFE_INTEGER });
  const inUse = new Set(records.filter((record) => !isTerminal(record.status)).map((record) => record.workspace));
  const cutoff = Date.now() - olderThanMs;
  const removed: string[] = [];
  const failed: CleanReport['failed'] = [];
  const candidates = records.filter(
    (record: RunRecord) =>
      isTerminal(record.status) &&
      !record.workspace_removed &&
      ['fresh', 'worktree', 'copy'].includes(record.workspace_mode) &&
      record.ended_at !== null &&
      Date.parse(record.ended_at) <= cutoff &&
      !inUse.has(record.workspace),
  );
  for (const record of candidates) {
    // Records live where children can write: the folder removed is the one the run id names, and
    // a worktree's repository is the one the worktree itself points to.
    const workspace = store.workspacePath(record.run_id);
    if (record.workspace !== workspace) {
      failed.push({ run_id: record.run_id, message: `its record names the workspace ${record.workspace}, not ${workspace}: left alone (fracta removes only its own workspaces)` });
      continue;
    }
    let repo: Parameters<typeof removeWorkspace>[1] = null;
    if (record.git && record.workspace_mode === 'worktree' && fs.existsSync(workspace)) {
      const owner = await repositoryOfWorktree(workspace);
      if (owner === undefined || !sameFolder(owner, record.git.repo)) {
        failed.push({ run_id: record.run_id, message: `its record names the repository ${record.git.repo}, but the worktree belongs to ${owner ?? 'no repository'}: left alone` });
        continue;
      }
      repo = { mode: 'worktree', repo: owner, branch: record.git.branch, baseCommit: record.git.base_commit };
    } else if (record.git && record.workspace_mode !== 'fresh') {
      repo = { mode: record.workspace_mode as 'worktree' | 'copy', repo: record.git.repo, branch: record.git.branch, baseCommit: record.git.base_commit };
    }
    try {
      const kept = await removeWorkspace(workspace, repo);
      await store.write({ ...record, workspace_removed: true, ...(record.git ? { git: { ...record.git, branch_kept: kept } } : {}) });
      removed.push(record.run_id);
    } catch (error) {
      failed.push({ run_id: record.run_id, message: (error as Error).message });
    }
  }
  return { removed, failed };
}
