import fs from 'node:fs';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether pid is still the child of this run (and not a stranger that got the pid later). */
export function isRunProcess(pid: number, runId: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`FRACTA_RUN_ID=${runId}`);
  } catch {
    return !fs.existsSync('/proc') && processAlive(pid);
  }
}
