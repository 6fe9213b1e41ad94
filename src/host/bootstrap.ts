import type { BootstrapFile } from './host.js';

/** Folder in a workspace that holds what fracta writes; its own .gitignore keeps it out of commits. */
export const FRACTA_DIR = '.fracta';
export const TASK_FILE = `${FRACTA_DIR}/task.md`;

/**
 * The task file and first prompt every host gets: the task itself, with the contract (what "done"
 * means) spelled out after it.
 */
export function bootstrapTask(task: string, contract: string | undefined): BootstrapFile {
  const sections = [task];
  if (contract) sections.push(`## Contract\n${contract}`);
  const prompt = sections.join('\n\n');
  return { fileName: TASK_FILE, fileContent: `${prompt}\n`, initialPrompt: prompt };
}
