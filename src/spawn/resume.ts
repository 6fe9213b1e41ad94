/**
 * The session a spawn continues (resume_run or resume_token), and where it runs. Hosts whose
 * sessions are bound to the folder they started in resume there, or fracta says why it cannot; it
 * never starts a new conversation instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FractaError } from '../errors.js';
import type { ResolvedRuntime } from '../host/registry.js';
import type { RunRecord } from '../record.js';
import type { SpawnRequest } from '../requests.js';
import { isRunId } from '../run-id.js';
import { isRepositoryTop } from '../workspace/repo.js';
import type { ResumeTarget } from './plan.js';

/** What resuming reads of the runs on record (the run store has it). */
export interface RunLookup {
  read(runId: string): Promise<RunRecord>;
  findBySession(adapter: string, token: string): Promise<RunRecord | undefined>;
  readonly runsDir: string;
  readonly workspacesDir: string;
}

export async function findResume(request: SpawnRequest, resolved: ResolvedRuntime, runs: RunLookup): Promise<ResumeTarget | undefined> {
  if (request.resume_run === undefined && request.resume_token === undefined) return undefined;
  const { runtime, host } = resolved;
  let origin: RunRecord | undefined;
  if (request.resume_run !== undefined) {
    origin = await runs.read(request.resume_run).catch((error: FractaError) => {
      throw new FractaError(error.code, error.message, 'resume_run');
    });
    if (!origin.resume_token) {
      throw new FractaError('session_not_found', `run ${origin.run_id} has no session to resume (it ${origin.status} without a resume token)`, 'resume_run');
    }
    if (request.resume_token !== undefined && request.resume_token !== origin.resume_token) {
      throw new FractaError('invalid_input', `resume_token and resume_run name different sessions (run ${origin.run_id} has ${origin.resume_token}); give one of them`, 'resume_token');
    }
    if (origin.host !== runtime.adapter) {
      throw new FractaError('invalid_input', `run ${origin.run_id} ran on host ${origin.host} (runtime ${origin.runtime}); resume it with a runtime of that host`, 'resume_run');
    }
  } else {
    origin = await runs.findBySession(runtime.adapter, request.resume_token!);
    if (!origin && host.resumeInSameWorkdir) {
      throw new FractaError(
        'session_not_found',
        `runtime "${runtime.name}" resumes a session only from the folder it started in, and no fracta run in ${runs.runsDir} has session ${request.resume_token}: pass resume_run with the id of the run that started it`,
        'resume_token',
      );
    }
  }
  const token = request.resume_token ?? origin!.resume_token!;
  if (origin) await checkResumeWorkspace(origin, runs.workspacesDir);
  const workspaceGone = origin !== undefined && (origin.workspace_removed || !fs.existsSync(origin.workspace));
  // A host that can resume anywhere still resumes where the session's files are, when they are there.
  const usage = origin?.usage ?? undefined;
  if (!host.resumeInSameWorkdir) return { token, fromRun: origin?.run_id, workdir: origin && !workspaceGone ? origin.workspace : undefined, usage };
  if (workspaceGone) {
    throw new FractaError(
      'session_not_found',
      `the workspace of run ${origin!.run_id} (${origin!.workspace}) was removed, and runtime "${runtime.name}" resumes a session only from the folder it started in; start a new run instead (keep workspaces with cleanup: keep)`,
      request.resume_run !== undefined ? 'resume_run' : 'resume_token',
    );
  }
  return { token, fromRun: origin!.run_id, workdir: origin!.workspace, usage };
}

/**
 * A record's workspace is where a resume runs and where fracta writes the next run's files, and a
 * child can rewrite records: only a folder of this FRACTA_HOME's workspaces (named by a run id), or
 * for an inplace run a repository's top level, is taken.
 */
async function checkResumeWorkspace(origin: RunRecord, workspacesDir: string): Promise<void> {
  const workspace = origin.workspace;
  const own = path.dirname(workspace) === workspacesDir && isRunId(path.basename(workspace));
  const repository = origin.workspace_mode === 'inplace' && (await isRepositoryTop(workspace));
  if (own || repository) return;
  throw new FractaError(
    'state_corrupt',
    `the record of run ${origin.run_id} names the workspace ${workspace}, which is neither a workspace of ${workspacesDir} nor a repository's top folder: fracta will not resume there; start a new run`,
    'resume_run',
  );
}
