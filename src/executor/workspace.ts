/** A run's workspace: a fresh folder with the host's files, the task file and fracta's own folder. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { FractaError } from '../errors.js';
import { FRACTA_DIR } from '../host/bootstrap.js';
import type { SpawnPlan } from '../spawn/plan.js';
import { createRepoWorkspace, removeRepoWorkspace, type RepoWorkspace } from '../workspace/repo.js';

async function writeInside(workdir: string, relative: string, content: string): Promise<void> {
  const target = path.resolve(workdir, relative);
  if (!target.startsWith(workdir + path.sep)) {
    throw new FractaError('workspace_failed', `a host asked to write ${relative}, which is outside the workspace`);
  }
  await fsp.mkdir(path.dirname(target), { recursive: true });
  await fsp.writeFile(target, content, { mode: 0o600 });
}

export async function prepareWorkspace(plan: SpawnPlan): Promise<void> {
  const { workdir, bootstrap, command, request, resolved, fractaServer } = plan;
  try {
    if (plan.repo && !plan.sharedWorkspace) await createRepoWorkspace(plan.repo, workdir);
    await fsp.mkdir(workdir, { recursive: true, mode: 0o700 });
    // Everything fracta writes lives in .fracta/, which ignores itself so it never lands in a commit.
    await writeInside(workdir, path.join(FRACTA_DIR, '.gitignore'), '*\n');
    await resolved.host.writeWorkspace(workdir, { allowedTools: request.allowed_tools, fractaServer, env: plan.childEnv.env });
    if (bootstrap.fileName) await writeInside(workdir, bootstrap.fileName, bootstrap.fileContent);
    for (const file of command.files ?? []) await writeInside(workdir, file.path, file.content);
  } catch (error) {
    if (error instanceof FractaError) throw error;
    throw new FractaError('workspace_failed', `could not prepare the workspace ${workdir}: ${(error as Error).message}`);
  }
}

/** Removes a run's workspace (a repository one the git way); returns whether a branch with commits was kept. */
export async function removeWorkspace(workdir: string, repo?: Pick<RepoWorkspace, 'mode' | 'repo' | 'branch' | 'baseCommit'> | null): Promise<boolean | null> {
  if (repo) return removeRepoWorkspace(repo, workdir);
  await fsp.rm(workdir, { recursive: true, force: true });
  return null;
}
