/**
 * A mutex between fracta processes sharing FRACTA_HOME: a directory, created atomically. Its holders
 * do milliseconds of work, so one older than STALE_MUTEX_MS was left by a process that died inside
 * it and is cleared. Everything under FRACTA_HOME can be written by child agents, so nothing here
 * trusts what it finds, and no wait is without end.
 */
import fs from 'node:fs';
import { FractaError } from './errors.js';

/** A mutex older than this was left by a process that died inside it (its work takes milliseconds). */
const STALE_MUTEX_MS = 5_000;
/** A mutex that cannot be taken or cleared for this long is reported, not waited for. */
const MUTEX_GIVE_UP_MS = 10_000;

export class DirMutex {
  /** Since when the mutex could not be taken. */
  private busySince: number | undefined;

  constructor(
    readonly path: string,
    /** What it guards, for the error that names it ("the slot mutex"). */
    private readonly what: string,
  ) {}

  /**
   * Runs `fn` under the mutex, or returns undefined at once when it is held: the caller tries again
   * later. One that stays held (or unclearable) for MUTEX_GIVE_UP_MS is a state_corrupt error naming it.
   */
  tryRun<T>(fn: () => T): { value: T } | undefined {
    if (!this.take()) {
      const now = Date.now();
      this.busySince ??= now;
      if (now - this.busySince > MUTEX_GIVE_UP_MS) {
        this.busySince = undefined;
        throw new FractaError(
          'state_corrupt',
          `${this.what} ${this.path} has been held for over ${MUTEX_GIVE_UP_MS / 1000} s and fracta could not clear it: remove it by hand (no fracta holds it longer than a few milliseconds)`,
        );
      }
      return undefined;
    }
    this.busySince = undefined;
    try {
      return { value: fn() };
    } finally {
      this.release();
    }
  }

  /** Runs `fn` under the mutex, waiting for it in short steps off the event loop (bounded as tryRun is). */
  async run<T>(fn: () => T): Promise<T> {
    for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
      const done = this.tryRun(fn);
      if (done) return done.value;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  /**
   * The folder it made is empty: one rmdir (rm's recursive walk costs a stat and a readdir more, on
   * every spawn). Only when something was put inside it meanwhile does the walk run.
   */
  private release(): void {
    try {
      fs.rmdirSync(this.path);
    } catch {
      fs.rmSync(this.path, { recursive: true, force: true });
    }
  }

  private take(): boolean {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.mkdirSync(this.path);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
      }
      if (attempt > 0 || !this.stale()) return false;
      try {
        // Whatever it is (a file, a folder with files, a link): rm never follows a link.
        fs.rmSync(this.path, { recursive: true, force: true });
      } catch {
        return false;
      }
    }
    return false;
  }

  /** Not fracta's mutex (not a folder), or older than any holder lives, or dated in the future. */
  private stale(): boolean {
    try {
      const stat = fs.lstatSync(this.path);
      const age = Date.now() - stat.mtimeMs;
      return !stat.isDirectory() || age > STALE_MUTEX_MS || age < -STALE_MUTEX_MS;
    } catch {
      return true;
    }
  }
}
