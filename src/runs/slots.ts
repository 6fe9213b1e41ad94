/**
 * Concurrency limits that hold across every fracta process sharing one FRACTA_HOME: each running run
 * holds a lease file in slots/global/ that names its runtime (the runtime limit counts those).
 * Leases are taken under a short mutex (a directory, created atomically), and a lease whose fracta
 * process died and whose child is gone is taken over, so a crash never leaks a slot. The child's pid is not written into the lease
 * (that was one more file rewrite per run): it is read from the run's record, which has it anyway,
 * and only for a lease whose owner is gone.
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
  /** The runtime whose limit the slot also counts against (absent in a loan). */
  readonly runtime?: string;
  /** Written by earlier versions; now the run record's pid is used. */
  readonly child_pid?: number | null;
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
  /** Folders known to exist, so a spawn does not ask the file system again each time. */
  private readonly made = new Set<string>();
  /** Slots this process holds (not loans), by run: when they alone fill a limit, the disk need not be asked. */
  private readonly own = new Map<string, string>();

  constructor(
    private readonly dir: string,
    /** The pid (process group) of a run's child, from its record; null when it has none. */
    private readonly childOf: (runId: string) => number | null,
  ) {
    this.mutex = path.join(dir, '.mutex');
  }

  private ensureFolder(folder: string): void {
    if (this.made.has(folder)) return;
    fs.mkdirSync(folder, { recursive: true });
    this.made.add(folder);
  }

  private withMutex<T>(fn: () => T): T {
    this.ensureFolder(this.dir);
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
        if (sameProcess(lease.owner) || this.childAlive(lease)) {
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

  private childAlive(lease: Lease): boolean {
    const pid = lease.child_pid ?? this.childOf(lease.run_id);
    return pid !== null && pid !== undefined && groupAlive(pid);
  }

  private folders(): string[] {
    return [path.join(this.dir, 'global'), path.join(this.dir, 'loans')];
  }

  /** Borrows the parent's slot when it holds one that is not lent already. */
  private tryBorrow(request: SlotRequest): boolean {
    const lender = request.parentRun;
    if (!lender) return false;
    const loansFolder = path.join(this.dir, 'loans');
    const loans = this.leases(loansFolder);
    const lenderHolds = this.leases(path.join(this.dir, 'global')).has(lender) || loans.has(lender);
    if (!lenderHolds || [...loans.values()].some((loan) => loan.lender === lender)) return false;
    this.ensureFolder(loansFolder);
    const loan: Lease = { run_id: request.runId, owner: processIdentity(), lender };
    fs.writeFileSync(path.join(loansFolder, `${request.runId}.json`), JSON.stringify(loan));
    return true;
  }

  /** Takes a slot for the run within the global and the runtime limit (or its parent's on loan); true when taken. */
  tryAcquire(request: SlotRequest): boolean {
    if (!request.parentRun && this.ownFull(request)) return false;
    return this.withMutex(() => {
      const global = path.join(this.dir, 'global');
      const held = [...this.leases(global).values()];
      const sameRuntime = held.filter((lease) => lease.runtime === request.runtime).length;
      if (held.length >= request.maxGlobal || sameRuntime >= request.maxRuntime) return this.tryBorrow(request);
      const lease: Lease = { run_id: request.runId, owner: processIdentity(), runtime: request.runtime };
      this.ensureFolder(global);
      fs.writeFileSync(path.join(global, `${request.runId}.json`), JSON.stringify(lease));
      this.own.set(request.runId, request.runtime);
      return true;
    });
  }

  /** Whether this process's own slots already reach a limit (a queue of one process draining). */
  private ownFull(request: SlotRequest): boolean {
    if (this.own.size >= request.maxGlobal) return true;
    let sameRuntime = 0;
    for (const runtime of this.own.values()) if (runtime === request.runtime) sameRuntime++;
    return sameRuntime >= request.maxRuntime;
  }

  release(request: SlotRequest): void {
    this.own.delete(request.runId);
    for (const folder of this.folders()) {
      try {
        fs.unlinkSync(path.join(folder, `${request.runId}.json`));
      } catch {
        // a slot is no loan and a loan no slot; or it is already gone
      }
    }
  }

  /** Runs holding a slot now (for tests and diagnostics). */
  holders(runtime?: string): string[] {
    return this.withMutex(() =>
      [...this.leases(path.join(this.dir, 'global'))].filter(([, lease]) => runtime === undefined || lease.runtime === runtime).map(([runId]) => runId),
    );
  }
}
