/**
 * The host's files for a run on a cluster: what writeWorkspace and the bootstrap put in the staging
 * workspace on this machine, to be carried to the pod in the run's input Secret.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { WorkspaceFile } from './types.js';

/**
 * Regular files only, by relative path. Links are left out on purpose: a link points at something
 * on this machine (the gemini host links the user's own login files into its run home), and what a
 * pod may use to log in comes from the runtime's kubernetes.env, through the cluster's Secrets.
 */
export async function collectWorkspaceFiles(workdir: string): Promise<WorkspaceFile[]> {
  const files: WorkspaceFile[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await fsp.readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        // Their size, with the prompt's, is held to a Secret's limit where the Secret is built (manifest.ts).
        files.push({ path: path.relative(workdir, full), content: await fsp.readFile(full, 'utf8') });
      }
    }
  };
  await walk(workdir);
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
