/**
 * Killing a child's whole process tree. Each child is started as the leader of its own process group,
 * so one signal to the group reaches its grandchildren too. "Gone" means no live member is left:
 * zombies are not counted, since in a container nobody may reap an orphan's.
 */
import fs from 'node:fs';
import { processAlive, statFields } from '../processes.js';

function liveMembersFromProc(pgid: number): number[] | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return undefined;
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (!fields) continue; // it ended while we looked
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
  }
  return members;
}

export function groupAlive(pgid: number): boolean {
  // The common case costs one system call: a group with no member at all, not even a zombie.
  if (!processAlive(-pgid)) return false;
  const members = liveMembersFromProc(pgid);
  return members ? members.length > 0 : true;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

async function waitGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** SIGTERM to the group; SIGKILL to whatever is left after the grace period. Resolves when it is gone. */
export async function killGroup(pgid: number, graceMs: number): Promise<void> {
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, 'SIGTERM');
  if (await waitGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGone(pgid, 5_000);
}
