import type { BootstrapFile } from './host.js';

/** Folder in a workspace that holds what fracta writes; its own .gitignore keeps it out of commits. */
export const FRACTA_DIR = '.fracta';
export const TASK_FILE = `${FRACTA_DIR}/task.md`;

/**
 * The task file and first prompt most hosts want: the task itself, with the contract (what "done"
 * means) spelled out after it, and the base branch named when the run works on one.
 */
export function defaultBootstrap(task: string, baseBranch: string | undefined, contract: string | undefined): BootstrapFile {
  const sections = [task];
  if (baseBranch) sections.push(`Base branch: ${baseBranch}`);
  if (contract) sections.push(`## Contract\n${contract}`);
  const prompt = sections.join('\n\n');
  return { fileName: TASK_FILE, fileContent: `${prompt}\n`, initialPrompt: prompt };
}
