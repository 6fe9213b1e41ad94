/**
 * A run's workspace: made before its process starts (a fresh folder, or a worktree or copy of the
 * user's repository), with the files the run needs declared in one list (fracta's own folder, the
 * host's files, the task file) that the backend puts there. fracta's own folder ignores itself, so it
 * never lands in a commit.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { FRACTA_DIR } from '../host/bootstrap.js';
import type { SpawnPlan } from '../spawn/plan.js';
import { workspaceFailure, type WorkspaceFile } from '../workspace/files.js';
import { createRepoWorkspace, removeRepoWorkspace, type RepoWorkspace } from '../workspace/repo.js';

/** Makes the repository workspace a run works in (a fresh folder is made with its files); returns the files it needs. */
export async function prepareWorkspace(plan: SpawnPlan): Promise<WorkspaceFile[]> {
  const { workdir, bootstrap, command, request, resolved, fractaServer } = plan;
  try {
    if (plan.repo && !plan.sharedWorkspace) await createRepoWorkspace(plan.repo, workdir);
    const hostFiles = await resolved.host.workspaceFiles(workdir, { allowedTools: request.allowed_tools, fractaServer, env: plan.childEnv.env });
    return [
      { path: path.join(FRACTA_DIR, '.gitignore'), content: '*\n' },
      ...hostFiles,
      ...(bootstrap.fileName ? [{ path: bootstrap.fileName, content: bootstrap.fileContent }] : []),
      ...(command.files ?? []),
    ];
  } catch (error) {
    throw workspaceFailure(workdir, error);
  }
}

/** Removes a run's workspace (a repository one the git way); returns whether a branch with commits was kept. */
export async function removeWorkspace(workdir: string, repo?: Pick<RepoWorkspace, 'mode' | 'repo' | 'branch' | 'baseCommit'> | null): Promise<boolean | null> {
  if (repo) return removeRepoWorkspace(repo, workdir);
  await fsp.rm(workdir, { recursive: true, force: true });
  return null;
}
