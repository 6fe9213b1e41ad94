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
  /** What is on disk, as of the last refresh: the page's listing is served from here, not read anew. */
  private readonly records = new Map<string, { mtime: number; record: RunRecord }>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private primed = false;
  private readonly runsDir: string;

  constructor(
    private readonly fracta: Fracta,
    home: string,
  ) {
    this.runsDir = path.join(home, 'runs');
  }

  /** Every run, newest first (at most MAX_RUNS), as on disk now. */
  async snapshot(): Promise<RunRecord[]> {
    await this.refresh();
    return [...this.records.values()]
      .map((entry) => entry.record)
      .sort((a, b) => b.created_at.localeCompare(a.created_at))
      .slice(0, MAX_RUNS);
  }

  subscribe(listener: (record: RunRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads what is on disk once (the board's first page then costs a stat per run), then follows it while a page listens. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer ??= setInterval(() => {
      if (this.listeners.size > 0) void this.refresh();
    }, TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over FRACTA_HOME/runs at a time; a caller that comes meanwhile gets that pass's result. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.pass().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async pass(): Promise<void> {
    let names: string[] = [];
    try {
      names = await fs.promises.readdir(this.runsDir);
    } catch {
      // no run yet
    }
    const present = new Set(names);
    for (const id of this.records.keys()) if (!present.has(id)) this.records.delete(id);
    const announce = this.primed;
    this.primed = true;
    for (const name of names) {
      let mtime: number;
      try {
        mtime = (await fs.promises.stat(path.join(this.runsDir, name, 'run.json'))).mtimeMs;
      } catch {
        continue;
      }
      if (this.records.get(name)?.mtime === mtime) continue;
      const record = await this.fracta.status({ run_id: name }).catch(() => undefined);
      if (!record) continue;
      this.records.set(name, { mtime, record });
      if (announce) for (const listener of this.listeners) listener(record);
    }
  }
}
