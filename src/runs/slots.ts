/**
 * Concurrency limits that hold across every fracta process sharing one FRACTA_HOME: each running run
 * holds a lease file in slots/global/ that names its runtime (the runtime limit counts those).
 * Leases are taken under a short mutex (a directory, created atomically), and a lease whose fracta
 * process died and whose child is gone is taken over, so a crash never leaks a slot. The child's pid
 * is not written into the lease (that was one more file rewrite per run): it is read from the run's
 * record, and only for a lease whose owner is gone.
 *
 * Everything here is on disk that child agents can write (FRACTA_HOME is in their environment), so
 * nothing here waits: a held mutex means "no slot now, try again on the queue's timer", a mutex that
 * is not fracta's is cleared once stale, and a lease counts only when its owner is proven alive.
 *
 * A run spawned by a running agent, when no slot is free, borrows its parent's (slots/loans/): a
 * parent that waits for its child must not wait behind itself. One loan per lender, so a chain of
 * agents counts as one slot however deep it goes; siblings beyond the first queue as usual.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FractaError } from '../errors.js';
import { groupAlive } from '../executor/process-group.js';
import { isRunId } from '../run-id.js';
import { isProcessIdentity, processIdentity, provenAlive, type ProcessIdentity } from './identity.js';
import { isRunProcess } from './run-process.js';
import { readStateFileSync } from '../read-bounded.js';
import { DirMutex } from '../dir-mutex.js';

interface Lease {
  readonly run_id: string;
  readonly owner: ProcessIdentity;
  /** The runtime whose limit the slot also counts against (absent in a loan). */
  readonly runtime?: string;
  /** For a loan: the run whose slot this is. */
  readonly lender?: string;
}

/** A lease as fracta writes it, or undefined: a file of any other shape holds no slot. */
function parseLease(text: string): Lease | undefined {
  const lease = JSON.parse(text) as Partial<Lease> | null;
  if (!lease || typeof lease.run_id !== 'string' || !isRunId(lease.run_id) || !isProcessIdentity(lease.owner)) return undefined;
  return lease as Lease;
}

export interface SlotRequest {
  readonly runId: string;
  readonly runtime: string;
  readonly maxGlobal: number;
  readonly maxRuntime: number;
  /** The run whose agent spawned this one, which may lend its slot. */
  readonly parentRun?: string | null;
}

export class SlotPool {
  private readonly mutex: DirMutex;
  /** Folders known to exist, so a spawn does not ask the file system again each time. */
  private readonly made = new Set<string>();
  /** Slots this process holds (not loans), by run: when they alone fill a limit, the disk need not be asked. */
  private readonly own = new Map<string, string>();

  constructor(
    private readonly dir: string,
    /** The pid (process group) of a run's child, from its record; null when it has none. */
    private readonly childOf: (runId: string) => number | null,
  ) {
    this.mutex = new DirMutex(path.join(dir, '.mutex'), 'the slot mutex');
  }

  private ensureFolder(folder: string): void {
    if (this.made.has(folder)) return;
    try {
      fs.mkdirSync(folder, { recursive: true });
    } catch (error) {
      throw new FractaError('state_corrupt', `fracta cannot keep its slot leases in ${folder} (${(error as Error).message}): remove whatever is there; fracta makes the folder again`);
    }
    this.made.add(folder);
  }

  /** Runs `fn` under the mutex, or returns undefined at once when it is held (try again later): nothing waits on the main thread. */
  private tryMutex<T>(fn: () => T): { value: T } | undefined {
    this.ensureFolder(this.dir);
    return this.mutex.tryRun(fn);
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
        const lease = parseLease(readStateFileSync(file, 4096));
        if (lease && (provenAlive(lease.owner) || this.childAlive(lease))) {
          live.set(name.slice(0, -'.json'.length), lease);
          continue;
        }
      } catch {
        // unreadable: a lease cut short by a crash, or not a lease at all
      }
      fs.rmSync(file, { recursive: true, force: true });
    }
    return live;
  }

  /** A lease outlives its fracta while the run's own child runs (not any process a forged record names). */
  private childAlive(lease: Lease): boolean {
    const pid = this.childOf(lease.run_id);
    return pid !== null && groupAlive(pid) && isRunProcess(pid, lease.run_id);
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

  /**
   * Takes a slot for the run within the global and the runtime limit (or its parent's on loan): true
   * when taken; false when none is free now, or the mutex is busy (either way: try again later).
   * Throws state_corrupt when the slots folder cannot be used.
   */
  tryAcquire(request: SlotRequest): boolean {
    if (!request.parentRun && this.ownFull(request)) return false;
    const taken = this.tryMutex(() => {
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
    return taken?.value ?? false;
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

  /** Runs holding a slot now (for tests and diagnostics; read without the mutex). */
  holders(runtime?: string): string[] {
    return [...this.leases(path.join(this.dir, 'global'))].filter(([, lease]) => runtime === undefined || lease.runtime === runtime).map(([runId]) => runId);
  }
}
