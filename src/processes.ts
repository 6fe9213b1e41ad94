/**
 * What this machine tells of a process: whether a signal reaches it (or its group), and the fields
 * of /proc/<pid>/stat. The one place fracta asks; where there is no /proc, the callers say what
 * they assume.
 */
import fs from 'node:fs';

/**
 * Whether signal 0 reaches `pid` (a negative pid: a process group): it exists, ours or not (EPERM),
 * whoever it is now (runs/identity.ts tells "the same one").
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses):
 * [0] state, [1] ppid, [2] pgrp, ..., [19] start time in clock ticks. Undefined where it cannot be read.
 */
export function statFields(pid: number | 'self' | string): string[] | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
