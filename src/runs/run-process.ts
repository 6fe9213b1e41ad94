/** A run's processes, known by the FRACTA_RUN_ID every run's child is started with. */
import fs from 'node:fs';
import { FRACTA_ENV } from '../names.js';
import { processAlive, statFields } from '../processes.js';

/** Whether pid is still the child of this run (and not a stranger that got the pid later). */
export function isRunProcess(pid: number, runId: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${FRACTA_ENV.RUN_ID}=${runId}`);
  } catch {
    return !fs.existsSync('/proc') && processAlive(pid);
  }
}

/**
 * The process groups of a run's processes, found by the FRACTA_RUN_ID every run's child is started
 * with: how a run whose record cannot be read is still reaped. Never this process's own group.
 */
export function runProcessGroups(runId: string): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const own = Number(statFields('self')?.[2]);
  const needle = `${FRACTA_ENV.RUN_ID}=${runId}`;
  const groups = new Set<number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: string;
    try {
      environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (!environ.split('\0').includes(needle)) continue;
    const fields = statFields(Number(entry));
    const group = Number(fields?.[2]);
    if (fields && fields[0] !== 'Z' && Number.isInteger(group) && group > 1 && group !== own) groups.add(group);
  }
  return [...groups];
}
