/**
 * Run records and logs on disk: `$FRACTA_HOME/runs/<id>/` holds run.json (written atomically: a
 * temporary file renamed over it, so a reader never sees half a record), stdout.log, stderr.log,
 * task.txt, and a cancel-request marker that another fracta process may leave.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FractaError, isNoSpace } from '../errors.js';
import { checkRunId } from '../run-id.js';
import { isProcessIdentity, processIdentity, type ProcessIdentity } from './identity.js';
import { readStateFile, readStateFileSync } from '../read-bounded.js';
import { runRecordSchema, type RunRecord, type RunStatus } from '../record.js';
import { mcpMarkerPath } from '../paths.js';

let temporaryCount = 0;

/** A message for a live session is a prompt: large, but not without end. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * A record as fracta writes it, or a state_corrupt error that names the file: records live where
 * child agents can write, so one may be cut short, or anything at all.
 */
export function parseRecord(text: string, file: string): RunRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FractaError('state_corrupt', `the run record ${file} is not JSON (cut short, or written by something other than fracta): look at it, or remove that run's folder`, 'run_id');
  }
  const parsed = runRecordSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new FractaError(
    'state_corrupt',
    `the run record ${file} is not one fracta wrote (${issue.path.join('.') || 'the record'}: ${issue.message}): look at it, or remove that run's folder`,
    'run_id',
  );
}

/** A write of fracta's state that failed: a full disk has its own code and the fix. */
export function writeFailure(error: NodeJS.ErrnoException, file: string): FractaError {
  if (isNoSpace(error)) {
    return new FractaError('disk_full', `the disk holding ${file} is full (${error.code}): free space there (or point FRACTA_HOME elsewhere)`);
  }
  return new FractaError('state_corrupt', `fracta could not write ${file} (${error.message})`);
}

export class RunStore {
  private madeActiveDir = false;
  readonly runsDir: string;
  readonly workspacesDir: string;
  readonly slotsDir: string;

  constructor(readonly home: string) {
    this.runsDir = path.join(home, 'runs');
    this.workspacesDir = path.join(home, 'workspaces');
    this.slotsDir = path.join(home, 'slots');
  }

  runDir(id: string): string {
    return path.join(this.runsDir, id);
  }

  recordPath(id: string): string {
    return path.join(this.runDir(id), 'run.json');
  }

  stdoutPath(id: string): string {
    return path.join(this.runDir(id), 'stdout.log');
  }

  stderrPath(id: string): string {
    return path.join(this.runDir(id), 'stderr.log');
  }

  taskPath(id: string): string {
    return path.join(this.runDir(id), 'task.txt');
  }

  cancelMarkerPath(id: string): string {
    return path.join(this.runDir(id), 'cancel-requested');
  }

  workspacePath(id: string): string {
    return path.join(this.workspacesDir, id);
  }

  /** Synchronous, like the other small writes of a spawn: a thread-pool round trip costs more than the mkdir. */
  create(id: string): void {
    fs.mkdirSync(this.runDir(id), { recursive: true, mode: 0o700 });
  }

  /** The task as the run got it (masked), for `fracta logs` and for a person reading the run's folder. */
  async writeTask(id: string, task: string): Promise<void> {
    try {
      // Most tasks are a few KB; a 10 MB one is written off the event loop.
      if (task.length < 1024 * 1024) fs.writeFileSync(this.taskPath(id), task, { mode: 0o600 });
      else await fsp.writeFile(this.taskPath(id), task, { mode: 0o600 });
    } catch (error) {
      throw writeFailure(error as NodeJS.ErrnoException, this.taskPath(id));
    }
  }

  async write(record: RunRecord): Promise<void> {
    const target = this.recordPath(record.run_id);
    // Unique among writers: another process has another pid, and this one counts.
    const temporary = `${target}.${process.pid}.${++temporaryCount}.tmp`;
    // Synchronous: a record is a few KB (the output in it is bounded), and a thread-pool round trip
    // per call cost more than the write when many runs start and end at once.
    try {
      // 'wx': a file (or link) a child put at that name is never written through.
      fs.writeFileSync(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      fs.renameSync(temporary, target);
    } catch (error) {
      fs.rmSync(temporary, { force: true });
      throw writeFailure(error as NodeJS.ErrnoException, target);
    }
  }

  /** The pid of a run's child as its record has it; null for no record, no pid or a record cut short. */
  pidOf(id: string): number | null {
    try {
      const pid = (JSON.parse(readStateFileSync(this.recordPath(id))) as { pid?: unknown } | null)?.pid;
      return typeof pid === 'number' ? pid : null;
    } catch {
      return null;
    }
  }

  /** The record, or a run_not_found error that says how to find runs. */
  async read(id: string): Promise<RunRecord> {
    checkRunId(id);
    let text: string;
    try {
      text = await readStateFile(this.recordPath(id));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EBADSTATE') {
        throw new FractaError('state_corrupt', `the run record ${(error as Error).message}: look at it, or remove that run's folder`, 'run_id');
      }
      throw new FractaError('run_not_found', `no run "${id}" in ${this.runsDir} (list runs with the runs tool or \`fracta runs\`)`, 'run_id');
    }
    return parseRecord(text, this.recordPath(id));
  }

  async list(filter: { status?: RunStatus | undefined; limit: number }): Promise<RunRecord[]> {
    let ids: string[];
    try {
      ids = await fsp.readdir(this.runsDir);
    } catch {
      return [];
    }
    // Ids start with their creation time, so a reverse sort is newest first.
    ids.sort().reverse();
    const records: RunRecord[] = [];
    for (const id of ids) {
      if (records.length >= filter.limit) break;
      const record = await this.read(id).catch(() => undefined);
      if (record && (!filter.status || record.status === filter.status)) records.push(record);
    }
    return records;
  }

  eventsPath(id: string): string {
    return path.join(this.runDir(id), 'events.jsonl');
  }

  /**
   * Messages for a live session owned by another fracta process go through the run's inbox folder:
   * one file a message, renamed into place whole, taken in order by the owner.
   */
  async postMessage(id: string, message: string): Promise<void> {
    const inbox = path.join(this.runDir(id), 'inbox');
    await fsp.mkdir(inbox, { recursive: true });
    const name = `${Date.now().toString().padStart(15, '0')}-${randomBytes(4).toString('hex')}`;
    await fsp.writeFile(path.join(inbox, `${name}.tmp`), message, { mode: 0o600 });
    await fsp.rename(path.join(inbox, `${name}.tmp`), path.join(inbox, `${name}.msg`));
  }

  /** Takes (reads and removes) the messages waiting in a run's inbox, oldest first. */
  async takeMessages(id: string): Promise<string[]> {
    const inbox = path.join(this.runDir(id), 'inbox');
    let names: string[];
    try {
      names = (await fsp.readdir(inbox)).filter((name) => name.endsWith('.msg')).sort();
    } catch {
      return [];
    }
    const messages: string[] = [];
    for (const name of names) {
      const file = path.join(inbox, name);
      // A message fracta did not write (not a file, or huge) is dropped, never waited on.
      const message = await readStateFile(file, MAX_MESSAGE_BYTES).catch(() => undefined);
      if (message !== undefined) messages.push(message);
      await fsp.rm(file, { force: true });
    }
    return messages;
  }

  requestClose(id: string): void {
    fs.writeFileSync(path.join(this.runDir(id), 'close-requested'), `${process.pid}\n`);
  }

  closeRequested(id: string): boolean {
    return fs.existsSync(path.join(this.runDir(id), 'close-requested'));
  }

  /** The newest run of this host whose session is `token`: where that session must be resumed from. */
  async findBySession(host: string, token: string): Promise<RunRecord | undefined> {
    let ids: string[];
    try {
      ids = await fsp.readdir(this.runsDir);
    } catch {
      return undefined;
    }
    for (const id of ids.sort().reverse()) {
      const record = await this.read(id).catch(() => undefined);
      if (record?.host === host && record.resume_token === token) return record;
    }
    return undefined;
  }

  /**
   * Takes one of a run's max child places (files children/0..max-1, each created exclusively, so
   * two spawns racing from one agent cannot both take the last place).
   */
  claimChild(parent: string, child: string, max: number): void {
    const folder = path.join(this.runDir(checkRunId(parent)), 'children');
    fs.mkdirSync(folder, { recursive: true });
    for (let place = 0; place < max; place++) {
      try {
        fs.writeFileSync(path.join(folder, String(place)), child, { flag: 'wx' });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    throw new FractaError(
      'children_limit',
      `run ${parent} has already spawned ${max} runs, the limit agents.max_children: ${max}; raise max_children in fracta.yaml to allow more`,
      'parent_run',
    );
  }

  /** The runs a run has spawned, in the order they were spawned. */
  children(parent: string): string[] {
    const folder = path.join(this.runDir(parent), 'children');
    try {
      checkRunId(parent);
      return fs
        .readdirSync(folder)
        .sort((a, b) => Number(a) - Number(b))
        .map((place) => readStateFileSync(path.join(folder, place), 64));
    } catch {
      return [];
    }
  }

  /**
   * Runs that are not over, as marker files in active/: what crash recovery looks at, without reading
   * every record ever written.
   */
  markActive(id: string): void {
    if (!this.madeActiveDir) {
      fs.mkdirSync(path.join(this.home, 'active'), { recursive: true });
      this.madeActiveDir = true;
    }
    // The owner, so that recovery knows whose run it is even when its record cannot be read.
    fs.writeFileSync(path.join(this.home, 'active', id), JSON.stringify(processIdentity()));
  }

  /** Who marked the run active, or undefined when the marker does not say (older versions, or not fracta's). */
  activeOwner(id: string): ProcessIdentity | undefined {
    try {
      const owner: unknown = JSON.parse(readStateFileSync(path.join(this.home, 'active', checkRunId(id)), 256));
      return isProcessIdentity(owner) ? owner : undefined;
    } catch {
      return undefined;
    }
  }

  /** Removes what a run that never got recorded left: its folder and its active marker. */
  discard(id: string): void {
    fs.rmSync(this.runDir(checkRunId(id)), { recursive: true, force: true });
    this.markEnded(id);
  }

  markEnded(id: string): void {
    fs.rmSync(path.join(this.home, 'active', id), { force: true });
  }

  activeIds(): string[] {
    try {
      return fs.readdirSync(path.join(this.home, 'active')).filter((id) => {
        try {
          checkRunId(id);
          return true;
        } catch {
          return false;
        }
      });
    } catch {
      return [];
    }
  }

  requestCancel(id: string): void {
    fs.writeFileSync(this.cancelMarkerPath(id), `${process.pid}\n`);
  }

  cancelRequested(id: string): boolean {
    return fs.existsSync(this.cancelMarkerPath(id));
  }

  /** Whether the agent of a run connected to the fracta it was given. */
  mcpConnected(id: string): boolean {
    return fs.existsSync(mcpMarkerPath(this.home, checkRunId(id)));
  }
}
