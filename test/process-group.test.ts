import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { groupAlive, killGroup } from '../src/executor/process-group.js';

/**
 * Whether a process is alive: a zombie (exited, not yet reaped; orphans may never be reaped in a
 * container) counts as gone, as it does for killGroup.
 */
function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code !== 'ESRCH';
    }
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
}

/** The process group id of a live process, from /proc. */
function pgidOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

const IGNORE_TERM = "process.on('SIGTERM', () => {});";
const LIVE_FOREVER = 'setInterval(() => {}, 1000);';

/**
 * A leader that starts a grandchild (in its own group, unless `grandchildDetached`), waits until the
 * grandchild is ready, then prints {"grandchild": pid} once it is itself ready.
 */
function leaderScript(options: { leaderIgnoresTerm?: boolean; grandchildIgnoresTerm?: boolean; grandchildDetached?: boolean }): string {
  const grandchild = `${options.grandchildIgnoresTerm ? IGNORE_TERM : ''} ${LIVE_FOREVER} process.stdout.write('ready\\n');`;
  return `
    ${options.leaderIgnoresTerm ? IGNORE_TERM : ''}
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: ${options.grandchildDetached === true},
    });
    child.stdout.once('data', () => {
      child.stdout.destroy();
      process.stdout.write(JSON.stringify({ grandchild: child.pid }) + '\\n');
    });
    ${LIVE_FOREVER}
  `;
}

const started: number[] = [];

afterEach(() => {
  for (const pid of started.splice(0)) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

interface Tree {
  readonly leader: ChildProcess;
  readonly pid: number;
  readonly grandchild: number;
  /** Settles with the leader's exit signal. */
  readonly exited: Promise<NodeJS.Signals | null>;
}

/** Starts a leader in a new process group and waits until it and its grandchild are ready. */
async function startTree(options: Parameters<typeof leaderScript>[0]): Promise<Tree> {
  const leader = spawn(process.execPath, ['-e', leaderScript(options)], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = leader.pid;
  if (pid === undefined) throw new Error('the leader did not start');
  started.push(pid);
  const exited = new Promise<NodeJS.Signals | null>((resolve) => leader.once('exit', (_code, signal) => resolve(signal)));
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    leader.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const end = buffered.indexOf('\n');
      if (end >= 0) resolve(buffered.slice(0, end));
    });
    leader.once('exit', (code, signal) => reject(new Error(`the leader ended before it was ready (${code ?? signal})`)));
  });
  const grandchild = (JSON.parse(line) as { grandchild: number }).grandchild;
  started.push(grandchild);
  return { leader, pid, grandchild, exited };
}

describe('killGroup', () => {
  it('kills the leader and a grandchild in its group with SIGTERM, well before the grace ends', async () => {
    const tree = await startTree({});
    expect(pgidOf(tree.grandchild)).toBe(tree.pid);
    expect(groupAlive(tree.pid)).toBe(true);

    const begin = Date.now();
    await killGroup(tree.pid, 20_000);
    const took = Date.now() - begin;

    expect(groupAlive(tree.pid)).toBe(false);
    expect(alive(tree.grandchild)).toBe(false);
    expect(alive(tree.pid)).toBe(false);
    expect(await tree.exited).toBe('SIGTERM');
    expect(took).toBeLessThan(10_000);
  });

  it('SIGKILLs a leader that ignores SIGTERM once the grace period has passed', async () => {
    const tree = await startTree({ leaderIgnoresTerm: true });
    const graceMs = 400;

    const begin = Date.now();
    await killGroup(tree.pid, graceMs);
    const took = Date.now() - begin;

    expect(took).toBeGreaterThanOrEqual(graceMs);
    expect(groupAlive(tree.pid)).toBe(false);
    expect(alive(tree.grandchild)).toBe(false);
    expect(await tree.exited).toBe('SIGKILL');
  });

  it('SIGKILLs a grandchild that ignores SIGTERM and outlives its leader', async () => {
    const tree = await startTree({ grandchildIgnoresTerm: true });
    const graceMs = 400;

    const begin = Date.now();
    await killGroup(tree.pid, graceMs);
    const took = Date.now() - begin;

    // The leader went at SIGTERM; the group was still alive through its grandchild until SIGKILL.
    expect(await tree.exited).toBe('SIGTERM');
    expect(took).toBeGreaterThanOrEqual(graceMs);
    expect(alive(tree.grandchild)).toBe(false);
    expect(groupAlive(tree.pid)).toBe(false);
  });

  it('leaves alone a process that moved to a group of its own', async () => {
    const tree = await startTree({ grandchildDetached: true });
    expect(pgidOf(tree.grandchild)).not.toBe(tree.pid);

    await killGroup(tree.pid, 5_000);

    expect(await tree.exited).toBe('SIGTERM');
    expect(alive(tree.grandchild)).toBe(true);
    expect(groupAlive(tree.grandchild)).toBe(true);
  });

  it('resolves at once for a group that is already gone', async () => {
    const leader = spawn(process.execPath, ['-e', ''], { detached: true, stdio: 'ignore' });
    const pid = leader.pid!;
    started.push(pid);
    await new Promise((resolve) => leader.once('exit', resolve));
    expect(groupAlive(pid)).toBe(false);

    const begin = Date.now();
    await killGroup(pid, 20_000);
    expect(Date.now() - begin).toBeLessThan(1_000);
  });
});

describe('groupAlive', () => {
  it('is true while a member of the group lives, and false once none does', async () => {
    const tree = await startTree({});
    expect(groupAlive(tree.pid)).toBe(true);
    process.kill(-tree.pid, 'SIGKILL');
    await tree.exited;
    // The grandchild is killed by the same signal but may take a moment to go.
    const deadline = Date.now() + 5_000;
    while (groupAlive(tree.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(groupAlive(tree.pid)).toBe(false);
  });

  it('is false for a process group id that no process has', () => {
    // Pids stop well below 2^22 on Linux (pid_max at most 4194304).
    expect(groupAlive(4_194_304 + 17)).toBe(false);
  });
});
