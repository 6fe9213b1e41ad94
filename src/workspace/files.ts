/**
 * The files a run needs in its workspace, declared as a list (by the host, the bootstrap, fracta
 * itself) and put there by the backend: the local backend writes them into the workspace, the
 * cluster backend carries them to its pod. Nothing is written while a run is planned.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FractaError } from '../errors.js';
import { folderInside, writeInside } from './write-inside.js';

/** A regular file (mode 0600), its path relative to the workspace. */
export interface ContentFile {
  readonly path: string;
  readonly content: string;
}

export type WorkspaceFile =
  | ContentFile
  /**
   * A link to a file of this machine's user (gemini's login files, so a token the child refreshes
   * is refreshed for the user too). Local runs only: a pod gets its credentials from the cluster.
   */
  | { readonly path: string; readonly linkTo: string }
  /** A folder that must exist with mode 0700 (a run's own home for an agent). */
  | { readonly path: string; readonly folder: true };

export function isContentFile(file: WorkspaceFile): file is ContentFile {
  return 'content' in file;
}

/**
 * Writes the list into the workspace, in order, never through a link the workspace holds (a
 * repository may commit one anywhere); an error is workspace_failed, naming the workspace.
 */
export function writeWorkspaceFiles(workdir: string, files: readonly WorkspaceFile[]): void {
  const made = new Set<string>();
  try {
    fs.mkdirSync(workdir, { recursive: true, mode: 0o700 });
    for (const file of files) {
      if ('content' in file) writeInside(workdir, file.path, file.content, made);
      else if ('folder' in file) fs.chmodSync(folderInside(workdir, file.path, made), 0o700);
      else {
        const link = path.join(folderInside(workdir, path.dirname(file.path), made), path.basename(file.path));
        // Replaces whatever an earlier run of the same workspace left there.
        fs.rmSync(link, { force: true });
        fs.symlinkSync(file.linkTo, link);
      }
    }
  } catch (error) {
    throw workspaceFailure(workdir, error);
  }
}

/** What went wrong making a workspace, as workspace_failed naming it (a FractaError already says what it is). */
export function workspaceFailure(workdir: string, error: unknown): FractaError {
  if (error instanceof FractaError) return error;
  return new FractaError('workspace_failed', `could not prepare the workspace ${workdir}: ${(error as Error).message}`);
}

/** A JSON settings file as agents' own tools write them (two-space indent, a final newline). */
export function jsonFile(relative: string, value: unknown): WorkspaceFile {
  return { path: relative, content: `${JSON.stringify(value, null, 2)}\n` };
}
