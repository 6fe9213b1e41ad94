/**
 * After a crash: fracta killed with SIGKILL leaves records that say running and, maybe, children that
 * still run. On its next start fracta reconciles every run whose owner is gone. The policy is kill:
 * a child that outlived its fracta can no longer be watched (its output went through the dead
 * process), so its process group is killed; the run is marked interrupted with what it logged.
 */
import { capturedFile } from '../executor/captured.js';
import { groupAlive, killGroup } from '../executor/process-group.js';
import { recovered } from './terminal.js';
import { provenAlive, sameProcess } from './identity.js';
import { isFractaError } from '../errors.js';
import { isRunProcess, runProcessGroups } from './run-process.js';
import { isTerminal, type RunRecord } from '../record.js';
import type { RunStore } from './store.js';
import { BudgetLedger } from '../budget/ledger.js';

export interface RecoveryReport {
  /** Runs marked interrupted. */
  readonly interrupted: string[];
  /** Of those, runs whose process group was still alive and was killed. */
  readonly killed: string[];
  /** Runs left active whose record cannot be read: what was wrong, and whether their processes were killed. */
  readonly unreadable: Array<{ readonly run_id: string; readonly path: string; readonly reason: string; readonly killed: number }>;
}

/** What recovery did, a line each, for stderr. */
export function describeRecovery(report: RecoveryReport): string[] {
  const lines = report.interrupted.length > 0 ? [`recovered ${report.interrupted.length} run(s) left by a fracta that stopped (${report.killed.length} killed)`] : [];
  for (const bad of report.unreadable) {
    lines.push(`run ${bad.run_id} was left running by a fracta that stopped, and its record cannot be read (${bad.reason}); ${bad.killed > 0 ? `its ${bad.killed} process group(s) were killed` : 'no process of it was running'}; the record is kept at ${bad.path}`);
  }
  return lines;
}

/**
 * A run whose record cannot be read: whether its fracta is gone is read from its active marker, and
 * its processes are found by their FRACTA_RUN_ID, so a child that corrupts its own record is still
 * reaped. The record itself is left as it is, for a person to look at.
 */
async function recoverUnreadable(store: RunStore, id: string, reason: string, killGraceMs: number, report: RecoveryReport): Promise<void> {
  const owner = store.activeOwner(id);
  if (owner && provenAlive(owner)) return; // its fracta runs it, and rewrites the record on its next change
  const groups = owner ? runProcessGroups(id) : [];
  await Promise.all(groups.map((group) => killGroup(group, killGraceMs)));
  report.unreadable.push({ run_id: id, path: store.recordPath(id), reason: reason.replace(/^the run record \S+ /, ''), killed: groups.length });
  store.markEnded(id);
}

function orphaned(record: RunRecord): boolean {
  return !isTerminal(record.status) && !sameProcess({ pid: record.owner_pid, started: record.owner_started });
}

/**
 * `stopRemote` is handed each orphaned run on a cluster: it deletes its Job in the background (a
 * cluster that does not answer must not hold up this machine's recovery, nor the spawns waiting on it).
 */
export async function recoverRuns(store: RunStore, killGraceMs: number, stopRemote?: (record: RunRecord) => void): Promise<RecoveryReport> {
  const report: RecoveryReport = { interrupted: [], killed: [], unreadable: [] };
  const ledger = new BudgetLedger(store.home);
  for (const id of store.activeIds()) {
    let record: RunRecord | undefined;
    try {
      record = await store.read(id);
    } catch (error) {
      if (isFractaError(error) && error.code === 'state_corrupt') await recoverUnreadable(store, id, error.message, killGraceMs, report);
      else store.markEnded(id); // no record at all: the run never got past its first write
      continue;
    }
    if (isTerminal(record.status)) {
      store.markEnded(id);
      continue;
    }
    if (!orphaned(record)) continue;
    const alive = record.pid !== null && groupAlive(record.pid) && isRunProcess(record.pid, id);
    if (alive) {
      await killGroup(record.pid!, killGraceMs);
      report.killed.push(id);
    }
    // A run on a cluster: its Job goes the same way (the policy is kill, not re-attach).
    const onCluster = record.kubernetes !== null && stopRemote !== undefined;
    if (onCluster) stopRemote!(record);
    // Its spend settles before its record says it ended: a crash between the two settles it again, and a settled run counts once.
    const root = record.root_run || record.run_id;
    if (ledger.has(root)) await ledger.settleOrphan(root, id, record.status !== 'queued').catch(() => undefined);
    await store.write(recovered(record, { killed: alive, onCluster, stdout: capturedFile(store.stdoutPath(id)) }));
    store.markEnded(id);
    report.interrupted.push(id);
  }
  return report;
}

/** Runs on clusters, as recovery reaches them: delete a dead run's Job, sweep the Jobs no run accounts for. */
export interface RemoteRecovery {
  stop(record: RunRecord): Promise<void>;
  reconcile(owned: (runId: string) => Promise<boolean>): Promise<{
    readonly deleted: ReadonlyArray<{ readonly namespace: string; readonly job: string }>;
    readonly failed: ReadonlyArray<{ readonly namespace: string; readonly message: string }>;
  }>;
}

/** How long recovery waits for a cluster to answer before it says so and moves on. */
const CLUSTER_CALL_MS = 30_000;

function clusterCall<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the cluster did not answer within ${CLUSTER_CALL_MS / 1000} s`)), CLUSTER_CALL_MS);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export interface Recovery {
  readonly report: RecoveryReport;
  /** What was done on clusters (Jobs of dead runs deleted, orphans reconciled), a line each, once they answered. */
  readonly clusters: Promise<string[]>;
}

/**
 * Recovery of a whole FRACTA_HOME when fracta starts: this machine's runs at once; the clusters in
 * the background, each call bounded, so a cluster that does not answer holds up no spawn.
 */
export async function recoverHome(store: RunStore, killGraceMs: number, remote: RemoteRecovery): Promise<Recovery> {
  const deletions: Array<Promise<string>> = [];
  const report = await recoverRuns(store, killGraceMs, (record) => {
    deletions.push(
      clusterCall(remote.stop(record)).then(
        () => `run ${record.run_id}: its Job ${record.kubernetes?.namespace}/${record.kubernetes?.job} was deleted`,
        (error: Error) => `run ${record.run_id}: its Job could not be deleted: ${error.message}`,
      ),
    );
  });
  const clusters = (async () => {
    const lines = await Promise.all(deletions);
    const swept = await clusterCall(
      remote.reconcile(async (runId) => {
        const record = await store.read(runId).catch(() => undefined);
        return record !== undefined && !isTerminal(record.status);
      }),
    ).catch((error: Error) => {
      lines.push(`could not reconcile Jobs on the cluster: ${error.message}`);
      return { deleted: [], failed: [] };
    });
    if (swept.deleted.length > 0) lines.push(`deleted ${swept.deleted.length} Job(s) no run accounts for: ${swept.deleted.map((orphan) => `${orphan.namespace}/${orphan.job}`).join(', ')}`);
    for (const failure of swept.failed) lines.push(`could not reconcile Jobs in namespace "${failure.namespace}": ${failure.message}`);
    return lines;
  })();
  return { report, clusters };
}
