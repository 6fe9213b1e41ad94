/**
 * The board's view of FRACTA_HOME: every run's record, and each change as it lands on disk, whichever
 * fracta process wrote it. One watcher, polling only while a page listens: a record is rewritten
 * whole (rename), so a changed mtime of run.json is a new record; a stat per run per tick is cheap
 * next to what a browser would cost polling the API itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Fracta } from '../service.js';
import type { RunRecord } from '../record.js';

const TICK_MS = 500;
/** The most runs the board lists (the store's own bound on one listing). */
const MAX_RUNS = 1000;

/** What the page shows of a run: no argv, no paths but the workspace, nothing it does not draw. */
export function summary(record: RunRecord) {
  return {
    run_id: record.run_id,
    status: record.status,
    runtime: record.runtime,
    host: record.host,
    tier: record.tier,
    model: record.model,
    task_preview: record.task_preview,
    parent_run: record.parent_run,
    root_run: record.root_run,
    depth: record.depth,
    created_at: record.created_at,
    started_at: record.started_at,
    ended_at: record.ended_at,
    cost_usd: record.cost_usd,
    spent: record.spent,
    budget: record.budget,
    stream: record.stream,
    awaiting_input: record.awaiting_input,
    turns_done: record.turns_done,
    needs_input: record.needs_input,
    pending_requests: record.pending_requests,
    error: record.error,
    output: record.output,
    workspace: record.workspace,
    git: record.git ? { branch: record.git.branch, base_branch: record.git.base_branch, commits: record.git.commits.length, uncommitted: record.git.uncommitted.length, files: record.git.diff.files.length, insertions: record.git.diff.insertions, deletions: record.git.diff.deletions } : null,
    backend: record.backend,
    warnings: record.warnings,
  };
}

export class RunWatch {
  private readonly listeners = new Set<(record: RunRecord) => void>();
  private readonly seen = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly runsDir: string;

  constructor(
    private readonly fracta: Fracta,
    home: string,
  ) {
    this.runsDir = path.join(home, 'runs');
  }

  async snapshot(): Promise<RunRecord[]> {
    return this.fracta.runs({ limit: MAX_RUNS });
  }

  subscribe(listener: (record: RunRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    await this.tick(true);
    this.timer ??= setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Primed when the board starts (what is on disk then is in every page's first listing), then every
   * tick with a page listening tells of each record changed since: a page that opened late gets at
   * worst a record it had already.
   */
  private async tick(priming = false): Promise<void> {
    if (this.ticking || (!priming && this.listeners.size === 0)) return;
    this.ticking = true;
    try {
      let names: string[] = [];
      try {
        names = await fs.promises.readdir(this.runsDir);
      } catch {
        return; // no run yet
      }
      for (const name of names) {
        let mtime: number;
        try {
          mtime = (await fs.promises.stat(path.join(this.runsDir, name, 'run.json'))).mtimeMs;
        } catch {
          continue;
        }
        if (this.seen.get(name) === mtime) continue;
        this.seen.set(name, mtime);
        if (priming) continue;
        const record = await this.fracta.status({ run_id: name }).catch(() => undefined);
        if (record) for (const listener of this.listeners) listener(record);
      }
    } finally {
      this.ticking = false;
    }
  }
}
