import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
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
function liveGroup(runId: string): number {
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, FRACTA_RUN_ID: runId } });
  child.unref();
  cleanups.push(() => killQuietly(-child.pid!));
  return child.pid!;
}

/** A lease as another fracta process wrote it, one that has since died. */
function foreignLease(dir: string, runId: string, runtime = 'rt'): void {
  fs.mkdirSync(path.join(dir, 'global'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'global', `${runId}.json`), JSON.stringify({ run_id: runId, owner: { pid: 2 ** 22 + 7, started: 1 }, runtime }));
}

const OLD = '20260101-000000-000aaaaa';
const NEW = '20260101-000001-000bbbbb';
const request = (runId: string) => ({ runId, runtime: 'rt', maxGlobal: 1, maxRuntime: 1 });

describe('slot leases across fracta processes', () => {
  it("a dead fracta's slot stays taken while its run's child (pid from the run record) lives, and is freed once it is gone", async () => {
    const dir = tempDir();
    const child = liveGroup(OLD);
    const pids = new Map<string, number | null>([[OLD, child]]);
    const pool = new SlotPool(dir, (runId) => pids.get(runId) ?? null);
    foreignLease(dir, OLD);
    expect(pool.tryAcquire(request(NEW))).toBe(false);
    expect(pool.holders()).toEqual([OLD]);
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
    expect(pool.tryAcquire(request(NEW))).toBe(true);
    expect(pool.holders()).toEqual([NEW]);
    expect(fs.existsSync(path.join(dir, 'global', `${OLD}.json`))).toBe(false);
  });

  it("a dead fracta's lease whose run never got a child is taken over at once", () => {
    const dir = tempDir();
    const pool = new SlotPool(dir, () => null);
    foreignLease(dir, '20260101-000000-0000dead');
    expect(pool.tryAcquire(request(NEW))).toBe(true);
    expect(pool.holders('rt')).toEqual([NEW]);
  });

  it('the runtime limit counts only leases of that runtime; the global limit counts them all', () => {
    const dir = tempDir();
    const pool = new SlotPool(dir, () => null);
    const limits = { maxGlobal: 3, maxRuntime: 1 };
    expect(pool.tryAcquire({ runId: '20260101-000000-0000a001', runtime: 'a', ...limits })).toBe(true);
    expect(pool.tryAcquire({ runId: '20260101-000000-0000a002', runtime: 'a', ...limits })).toBe(false);
    expect(pool.tryAcquire({ runId: '20260101-000000-0000b001', runtime: 'b', ...limits })).toBe(true);
    expect(pool.tryAcquire({ runId: '20260101-000000-0000c001', runtime: 'c', ...limits })).toBe(true);
    expect(pool.tryAcquire({ runId: '20260101-000000-0000d001', runtime: 'd', ...limits })).toBe(false);
    expect(pool.holders('a')).toEqual(['20260101-000000-0000a001']);
    expect(pool.holders().sort()).toEqual(['20260101-000000-0000a001', '20260101-000000-0000b001', '20260101-000000-0000c001']);
  });

  it('a lease of this process holds without any child, and release frees both of its slots', () => {
    const dir = tempDir();
    const pool = new SlotPool(dir, () => null);
    expect(pool.tryAcquire(request('20260101-000000-0000000a'))).toBe(true);
    expect(pool.tryAcquire(request('20260101-000000-0000000b'))).toBe(false);
    pool.release(request('20260101-000000-0000000a'));
    pool.release(request('20260101-000000-0000000a'));
    expect(pool.holders()).toEqual([]);
    expect(pool.holders('rt')).toEqual([]);
    expect(pool.tryAcquire(request('20260101-000000-0000000b'))).toBe(true);
  });
});

describe('slot state a child may have written', () => {
  it('a lease owned by {pid: 1, started: null} holds no slot', () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'global'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'global', `${OLD}.json`), JSON.stringify({ run_id: OLD, owner: { pid: 1, started: null }, runtime: 'rt' }));
    const pool = new SlotPool(dir, () => null);
    expect(pool.tryAcquire(request(NEW))).toBe(true);
  });

  it('a record that names a live process which is not the run\'s own keeps no lease alive', () => {
    const dir = tempDir();
    const stranger = liveGroup('20260101-000000-000fffff');
    foreignLease(dir, OLD);
    const pool = new SlotPool(dir, () => stranger);
    expect(pool.tryAcquire(request(NEW))).toBe(true);
  });

  for (const [what, poison] of [
    ['a file', (mutex: string) => fs.writeFileSync(mutex, 'x')],
    ['a folder with files in it, dated an hour ago', (mutex: string) => {
      fs.mkdirSync(path.join(mutex, 'inner'), { recursive: true });
      const hourAgo = new Date(Date.now() - 3_600_000);
      fs.utimesSync(mutex, hourAgo, hourAgo);
    }],
    ['a folder dated in the future', (mutex: string) => {
      fs.mkdirSync(mutex);
      const later = new Date(Date.now() + 3_600_000);
      fs.utimesSync(mutex, later, later);
    }],
    ['a link to a folder outside', (mutex: string) => fs.symlinkSync(tempDir(), mutex)],
  ] as const) {
    it(`a poisoned mutex (${what}) is cleared without waiting, and nothing outside is touched`, () => {
      const dir = tempDir();
      fs.mkdirSync(dir, { recursive: true });
      const mutex = path.join(dir, '.mutex');
      poison(mutex);
      const target = fs.lstatSync(mutex).isSymbolicLink() ? fs.readlinkSync(mutex) : undefined;
      if (target) fs.writeFileSync(path.join(target, 'keep.txt'), 'keep');
      const pool = new SlotPool(dir, () => null);
      const started = Date.now();
      expect(pool.tryAcquire(request(NEW))).toBe(true);
      expect(Date.now() - started).toBeLessThan(1_000);
      if (target) expect(fs.readFileSync(path.join(target, 'keep.txt'), 'utf8')).toBe('keep');
    });
  }

  it('a mutex held (fresh) is a "not now" at once, and one that stays past the bound is a state_corrupt error naming it', () => {
    const dir = tempDir();
    const mutex = path.join(dir, '.mutex');
    fs.mkdirSync(mutex, { recursive: true });
    const pool = new SlotPool(dir, () => null);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const started = Date.now();
      expect(pool.tryAcquire(request(NEW))).toBe(false);
      // Whoever holds it keeps it fresh: it is never stale, so fracta gives up after its bound.
      vi.setSystemTime(started + 11_000);
      fs.utimesSync(mutex, new Date(), new Date());
      expect(() => pool.tryAcquire(request(NEW))).toThrow(/slot mutex .*\.mutex has been held for over 10 s .*remove it by hand/);
    } finally {
      vi.useRealTimers();
    }
  });
});
