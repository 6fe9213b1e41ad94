import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SlotPool } from '../src/runs/slots.js';
import { killQuietly } from './helpers/harness.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-slots-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A process group that lives until killed, as a run's child would. */
function liveGroup(): number {
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  child.unref();
  cleanups.push(() => killQuietly(-child.pid!));
  return child.pid!;
}

/** A lease as another fracta process wrote it, one that has since died. */
function foreignLease(dir: string, runId: string, runtime = 'rt'): void {
  fs.mkdirSync(path.join(dir, 'global'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'global', `${runId}.json`), JSON.stringify({ run_id: runId, owner: { pid: 2 ** 22 + 7, started: 1 }, runtime }));
}

const request = (runId: string) => ({ runId, runtime: 'rt', maxGlobal: 1, maxRuntime: 1 });

describe('slot leases across fracta processes', () => {
  it("a dead fracta's slot stays taken while its run's child (pid from the run record) lives, and is freed once it is gone", async () => {
    const dir = tempDir();
    const child = liveGroup();
    const pids = new Map<string, number | null>([['old-run', child]]);
    const pool = new SlotPool(dir, (runId) => pids.get(runId) ?? null);
    foreignLease(dir, 'old-run');
    expect(pool.tryAcquire(request('new-run'))).toBe(false);
    expect(pool.holders()).toEqual(['old-run']);
    killQuietly(-child);
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        try {
          process.kill(child, 0);
        } catch {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    expect(pool.tryAcquire(request('new-run'))).toBe(true);
    expect(pool.holders()).toEqual(['new-run']);
    expect(fs.existsSync(path.join(dir, 'global', 'old-run.json'))).toBe(false);
  });

  it("a dead fracta's lease whose run never got a child is taken over at once", () => {
    const dir = tempDir();
    const pool = new SlotPool(dir, () => null);
    foreignLease(dir, 'queued-run');
    expect(pool.tryAcquire(request('new-run'))).toBe(true);
    expect(pool.holders('rt')).toEqual(['new-run']);
  });

  it('the runtime limit counts only leases of that runtime; the global limit counts them all', () => {
    const dir = tempDir();
    const pool = new SlotPool(dir, () => null);
    const limits = { maxGlobal: 3, maxRuntime: 1 };
    expect(pool.tryAcquire({ runId: 'a1', runtime: 'a', ...limits })).toBe(true);
    expect(pool.tryAcquire({ runId: 'a2', runtime: 'a', ...limits })).toBe(false);
    expect(pool.tryAcquire({ runId: 'b1', runtime: 'b', ...limits })).toBe(true);
    expect(pool.tryAcquire({ runId: 'c1', runtime: 'c', ...limits })).toBe(true);
    expect(pool.tryAcquire({ runId: 'd1', runtime: 'd', ...limits })).toBe(false);
    expect(pool.holders('a')).toEqual(['a1']);
    expect(pool.holders().sort()).toEqual(['a1', 'b1', 'c1']);
  });

  it('a lease of this process holds without any child, and release frees both of its slots', () => {
    const dir = tempDir();
    const pool = new SlotPool(dir, () => null);
    expect(pool.tryAcquire(request('a'))).toBe(true);
    expect(pool.tryAcquire(request('b'))).toBe(false);
    pool.release(request('a'));
    pool.release(request('a'));
    expect(pool.holders()).toEqual([]);
    expect(pool.holders('rt')).toEqual([]);
    expect(pool.tryAcquire(request('b'))).toBe(true);
  });
});
