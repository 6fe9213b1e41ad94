/**
 * A run's workspace: a fresh folder with the host's files, the task file and fracta's own folder.
 * fracta's own small files are written synchronously: each is a few hundred bytes, and a thread-pool
 * round trip per file cost more than the write itself when many runs start at once.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { FractaError } from '../errors.js';
import { FRACTA_DIR } from '../host/bootstrap.js';
import type { SpawnPlan } from '../spawn/plan.js';
import { createRepoWorkspace, removeRepoWorkspace, type RepoWorkspace } from '../workspace/repo.js';
import { writeInside } from '../workspace/write-inside.js';

export async function prepareWorkspace(plan: SpawnPlan): Promise<void> {
  const { workdir, bootstrap, command, request, resolved, fractaServer } = plan;
  try {
    if (plan.repo && !plan.sharedWorkspace) await createRepoWorkspace(plan.repo, workdir);
    fs.mkdirSync(workdir, { recursive: true, mode: 0o700 });
    const made = new Set<string>();
    // Everything fracta writes lives in .fracta/, which ignores itself so it never lands in a commit.
    writeInside(workdir, path.join(FRACTA_DIR, '.gitignore'), '*\n', made);
    await resolved.host.writeWorkspace(workdir, { allowedTools: request.allowed_tools, fractaServer, env: plan.childEnv.env });
    if (bootstrap.fileName) writeInside(workdir, bootstrap.fileName, bootstrap.fileContent, made);
    for (const file of command.files ?? []) writeInside(workdir, file.path, file.content, made);
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
