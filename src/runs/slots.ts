/**
 * Concurrency limits that hold across every fracta process sharing one FRACTA_HOME: each running run
 * holds a lease file in slots/global/ and one in slots/<runtime>/. Leases are taken under a short
 * mutex (a directory, created atomically), and a lease whose fracta process died and whose child is
 * gone is taken over, so a crash never leaks a slot.
 *
 * A run spawned by a running agent, when no slot is free, borrows its parent's (slots/loans/): a
 * parent that waits for its child must not wait behind itself. One loan per lender, so a chain of
 * agents counts as one slot however deep it goes; siblings beyond the first queue as usual.
 */
import fs from 'node:fs';
import path from 'node:path';
import { groupAlive } from '../executor/process-group.js';
import { processIdentity, sameProcess, type ProcessIdentity } from './identity.js';

/** A mutex older than this was left by a process that died inside it (its work takes milliseconds). */
const STALE_MUTEX_MS = 5_000;

interface Lease {
  readonly run_id: string;
  readonly owner: ProcessIdentity;
  readonly child_pid: number | null;
  /** For a loan: the run whose slot this is. */
  readonly lender?: string;
}

export interface SlotRequest {
  readonly runId: string;
  readonly runtime: string;
  readonly maxGlobal: number;
  readonly maxRuntime: number;
  /** The run whose agent spawned this one, which may lend its slot. */
  readonly parentRun?: string | null;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class SlotPool {
  private readonly mutex: string;

  constructor(private readonly dir: string) {
    this.mutex = path.join(dir, '.mutex');
  }

  private withMutex<T>(fn: () => T): T {
    fs.mkdirSync(this.dir, { recursive: true });
    for (;;) {
      try {
        fs.mkdirSync(this.mutex);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        try {
          if (Date.now() - fs.statSync(this.mutex).mtimeMs > STALE_MUTEX_MS) fs.rmdirSync(this.mutex);
        } catch {
          // someone else removed it
        }
        sleepSync(2);
      }
    }
    try {
      return fn();
    } finally {
      fs.rmdirSync(this.mutex);
    }
  }

  /** The live leases of a folder (file name without .json → lease); dead holders' files are removed. */
  private leases(folder: string): Map<string, Lease> {
    const live = new Map<string, Lease>();
    let names: string[];
    try {
      names = fs.readdirSync(folder).filter((name) => name.endsWith('.json'));
    } catch {
      return live;
    }
    for (const name of names) {
      const file = path.join(folder, name);
      try {
        const lease = JSON.parse(fs.readFileSync(file, 'utf8')) as Lease;
        if (sameProcess(lease.owner) || (lease.child_pid !== null && groupAlive(lease.child_pid))) {
          live.set(name.slice(0, -'.json'.length), lease);
          continue;
        }
      } catch {
        // unreadable: a lease cut short by a crash
      }
      fs.rmSync(file, { force: true });
    }
    return live;
  }

  private live(folder: string): string[] {
    return [...this.leases(folder).keys()];
  }

  private folders(request: SlotRequest): string[] {
    return [path.join(this.dir, 'global'), path.join(this.dir, `runtime-${request.runtime}`), path.join(this.dir, 'loans')];
  }

  /** Borrows the parent's slot when it holds one that is not lent already. */
  private tryBorrow(request: SlotRequest): boolean {
    const lender = request.parentRun;
    if (!lender) return false;
    const loansFolder = path.join(this.dir, 'loans');
    const loans = this.leases(loansFolder);
    const lenderHolds = this.leases(path.join(this.dir, 'global')).has(lender) || loans.has(lender);
    if (!lenderHolds || [...loans.values()].some((loan) => loan.lender === lender)) return false;
    fs.mkdirSync(loansFolder, { recursive: true });
    const loan: Lease = { run_id: request.runId, owner: processIdentity(), child_pid: null, lender };
    fs.writeFileSync(path.join(loansFolder, `${request.runId}.json`), JSON.stringify(loan));
    return true;
  }

  /** Takes a global and a runtime slot for the run (or its parent's on loan); true when taken. */
  tryAcquire(request: SlotRequest): boolean {
    return this.withMutex(() => {
      const [global, runtime] = this.folders(request) as [string, string];
      if (this.live(global).length >= request.maxGlobal || this.live(runtime).length >= request.maxRuntime) return this.tryBorrow(request);
      const lease: Lease = { run_id: request.runId, owner: processIdentity(), child_pid: null };
      for (const folder of [global, runtime]) {
        fs.mkdirSync(folder, { recursive: true });
        fs.writeFileSync(path.join(folder, `${request.runId}.json`), JSON.stringify(lease));
      }
      return true;
    });
  }

  /** Records the child's pid, so the slot stays taken while the child lives even if fracta dies. */
  setChild(request: SlotRequest, pid: number): void {
    for (const folder of this.folders(request)) {
      const file = path.join(folder, `${request.runId}.json`);
      let held: Lease;
      try {
        held = JSON.parse(fs.readFileSync(file, 'utf8')) as Lease;
      } catch {
        continue; // not a slot of this kind (a loan has no runtime slot, a slot no loan)
      }
      const temporary = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(temporary, JSON.stringify({ ...held, child_pid: pid }));
      fs.renameSync(temporary, file);
    }
  }

  release(request: SlotRequest): void {
    for (const folder of this.folders(request)) fs.rmSync(path.join(folder, `${request.runId}.json`), { force: true });
  }

  /** Runs holding a slot now (for tests and diagnostics). */
  holders(runtime?: string): string[] {
    const folder = runtime ? path.join(this.dir, `runtime-${runtime}`) : path.join(this.dir, 'global');
    return this.withMutex(() => this.live(folder).map((name) => name.replace(/\.json$/, '')));
  }
}
