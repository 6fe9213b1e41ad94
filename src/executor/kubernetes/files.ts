/**
 * The host's files for a run on a cluster: what writeWorkspace and the bootstrap put in the staging
 * workspace on this machine, to be carried to the pod in the run's input Secret.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { FractaError } from '../../errors.js';
import type { WorkspaceFile } from './types.js';

/** Well under a Secret's 1 MiB with the prompt beside them; a host writes settings, not payloads. */
const MAX_FILES_BYTES = 256 * 1024;

/**
 * Regular files only, by relative path. Links are left out on purpose: a link points at something
 * on this machine (the gemini host links the user's own login files into its run home), and what a
 * pod may use to log in comes from the runtime's kubernetes.env, through the cluster's Secrets.
 */
export async function collectWorkspaceFiles(workdir: string): Promise<WorkspaceFile[]> {
  const files: WorkspaceFile[] = [];
  let bytes = 0;
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await fsp.readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const content = await fsp.readFile(full, 'utf8');
        bytes += Buffer.byteLength(content);
        if (bytes > MAX_FILES_BYTES) {
          throw new FractaError('k8s_invalid', `the host's files for the pod are over ${MAX_FILES_BYTES / 1024} KiB (at ${path.relative(workdir, full)}); they travel in a Secret, which holds at most 1 MiB`);
        }
        files.push({ path: path.relative(workdir, full), content });
      }
    }
  };
  await walk(workdir);
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
