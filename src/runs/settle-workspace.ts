/**
 * A run's workspace after the run: for a run on a repository, what the agent changed (its commits,
 * what it left uncommitted, a diff summary); then the workspace removed or kept, per the cleanup
 * policy and what a later resume needs. Returns the record with what happened.
 */
import { removeWorkspace } from './workspace.js';
import type { SpawnPlan } from '../spawn/plan.js';
import { summarizeChanges } from '../workspace/repo.js';
import type { RunRecord } from '../record.js';

export async function settleWorkspace(plan: SpawnPlan, record: RunRecord, prepared: boolean): Promise<RunRecord> {
  let final = record;
  if (plan.repo && prepared && final.git) {
    const changes = await summarizeChanges(plan.repo, final.workspace).catch((error: Error) => {
      final = { ...final, warnings: [...final.warnings, `could not read what the agent changed: ${error.message}`] };
      return null;
    });
    if (changes) final = { ...final, git: { ...final.git!, ...changes } };
  }
  let remove = record.cleanup === 'always' || (record.cleanup === 'on_success' && record.status === 'succeeded');
  if (plan.sharedWorkspace || !prepared) remove = false; // it belongs to the run that started the session, or was never made
  else if (remove && record.cleanup === 'on_success' && record.resume_token && plan.resolved.host.resumeInSameWorkdir) {
    remove = false;
    final = {
      ...final,
      warnings: [...final.warnings, `the workspace was kept: runtime "${record.runtime}" resumes its session only from it (cleanup: always removes it anyway)`],
    };
  }
  // fracta's own folder never stays in a user's checkout.
  if (plan.repo?.mode === 'inplace' && prepared) remove = true;
  if (remove) {
    try {
      const kept = await removeWorkspace(record.workspace, plan.repo);
      // An inplace run's workspace is the user's checkout: only fracta's own folder goes.
      final = { ...final, workspace_removed: plan.repo?.mode !== 'inplace', ...(final.git ? { git: { ...final.git, branch_kept: kept } } : {}) };
    } catch (error) {
      final = { ...final, warnings: [...final.warnings, `the workspace could not be removed: ${(error as Error).message}`] };
    }
  }
  return final;
}
