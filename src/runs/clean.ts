/**
 * `fracta clean`: removes the workspaces of runs that ended long enough ago (a worktree the git way,
 * keeping a branch that holds commits), never one a running run uses.
 */
import { removeWorkspace } from '../executor/workspace.js';
import { isTerminal, type RunRecord } from './record.js';
import type { RunStore } from './store.js';

export interface CleanReport {
  readonly removed: string[];
  readonly failed: Array<{ run_id: string; message: string }>;
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
    const repo = record.git && record.workspace_mode !== 'fresh'
      ? { mode: record.workspace_mode as 'worktree' | 'copy', repo: record.git.repo, branch: record.git.branch, baseCommit: record.git.base_commit }
      : null;
    try {
      const kept = await removeWorkspace(record.workspace, repo);
      await store.write({ ...record, workspace_removed: true, ...(record.git ? { git: { ...record.git, branch_kept: kept } } : {}) });
      removed.push(record.run_id);
    } catch (error) {
      failed.push({ run_id: record.run_id, message: (error as Error).message });
    }
  }
  return { removed, failed };
}
