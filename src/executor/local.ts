/**
 * The local backend: the child runs from an argument array (no shell), as the leader of its own
 * process group, with stdout and stderr going to files so that a huge output never sits in memory.
 *
 * node:child_process rather than execa: this is the hot path of every run, and what execa adds
 * (promise, buffering, stream plumbing) is all turned off here or done below; without it a spawn
 * costs measurably less CPU (bench: spawn overhead).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { FractaError } from '../errors.js';
import type { ExecutionBackend, Job, JobExit, RunningJob } from './backend.js';
import { killGroup } from './process-group.js';
import { diskFull, masked, outputFailure, splitLines, toFile, within } from './output.js';
import { writeWorkspaceFiles } from '../workspace/files.js';

/** After the tree is reaped, how long to wait for pipes held open by a process that left the group. */
const DRAIN_MS = 2_000;

function startError(job: Job, error: NodeJS.ErrnoException): FractaError {
  if (error.code === 'ENOENT') {
    return new FractaError('command_not_found', `the \`${job.command}\` command was not found: install it or put it on PATH`);
  }
  if (error.code === 'EACCES') {
    return new FractaError('command_not_found', `\`${job.command}\` is not executable (EACCES): check its permissions`);
  }
  if (error.code === 'E2BIG') {
    return new FractaError('prompt_too_long', `the command line for \`${job.command}\` is too long for the system (E2BIG): pass the prompt on stdin`);
  }
  return new FractaError('spawn_failed', `could not start \`${job.command}\`: ${error.message}`);
}

/**
 * Where one output stream of the child goes. When fracta needs its bytes as they come (a parser, the
 * idle timer, secrets to mask), a pipe; else the log file itself, so the bytes never pass through
 * fracta at all: no copy, no memory, nothing to drain.
 */
function outputTarget(path: string, needsBytes: boolean): 'pipe' | number {
  return needsBytes ? 'pipe' : fs.openSync(path, 'a', 0o600);
}

function closeFd(target: 'pipe' | number): void {
  if (typeof target === 'number') fs.closeSync(target);
}

function whenSpawned(child: ChildProcess): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error) => resolve(error as NodeJS.ErrnoException));
  });
}

export const localBackend: ExecutionBackend = {
  async start(job: Job): Promise<RunningJob> {
    if (job.files) writeWorkspaceFiles(job.cwd, job.files);
    const secrets = job.secrets ?? [];
    const stdoutTarget = outputTarget(job.stdoutPath, secrets.length > 0 || job.onStdoutLine !== undefined || job.onOutput !== undefined);
    const stderrTarget = outputTarget(job.stderrPath, secrets.length > 0 || job.onOutput !== undefined);
    const stdinTarget = job.stdin === undefined && !job.keepStdinOpen ? 'ignore' : 'pipe';
    let child: ChildProcess;
    try {
      child = spawn(job.command, [...job.args], {
        cwd: job.cwd,
        env: job.env,
        detached: true,
        windowsHide: true,
        stdio: [stdinTarget, stdoutTarget, stderrTarget],
      });
    } catch (error) {
      closeFd(stdoutTarget);
      closeFd(stderrTarget);
      throw startError(job, error as NodeJS.ErrnoException);
    }
    // The child has its own copies of the log files; ours are not needed once it is started.
    closeFd(stdoutTarget);
    closeFd(stderrTarget);

    const stdout = masked(child.stdout as Readable | null, secrets);
    const stderr = masked(child.stderr as Readable | null, secrets);
    if (job.onStdoutLine) splitLines(stdout, job.onStdoutLine);
    if (job.onOutput) {
      const onOutput = job.onOutput;
      child.stdout?.on('data', () => onOutput());
      child.stderr?.on('data', () => onOutput());
    }
    let outputError: FractaError | undefined;
    const logs: Array<[string, Promise<NodeJS.ErrnoException | undefined> | undefined]> = [
      [job.stdoutPath, stdoutTarget === 'pipe' ? toFile(stdout, job.stdoutPath) : undefined],
      [job.stderrPath, stderrTarget === 'pipe' ? toFile(stderr, job.stderrPath) : undefined],
    ];
    const outputs = Promise.all(
      logs.map(([file, written]) => written?.then((error) => void (error && (outputError ??= outputFailure(error, file))))),
    );
    // A child that stops reading its stdin must not crash fracta with EPIPE.
    child.stdin?.on('error', () => undefined);
    const leaderExit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });

    const spawnError = await whenSpawned(child);
    if (spawnError || child.pid === undefined) {
      child.stdout?.destroy();
      child.stderr?.destroy();
      await within(outputs, DRAIN_MS);
      throw startError(job, spawnError ?? new Error('no process id'));
    }
    const pid = child.pid;

    const exited = (async (): Promise<JobExit> => {
      const { code, signal } = await leaderExit;
      // The leader is done: whatever it left running in its group goes too.
      await killGroup(pid, job.killGraceMs);
      await within(outputs, DRAIN_MS);
      child.stdout?.destroy();
      child.stderr?.destroy();
      stdout?.destroy();
      stderr?.destroy();
      // A log the child wrote itself fails on its side: a file system with no room left says so.
      if (!outputError && (stdoutTarget !== 'pipe' || stderrTarget !== 'pipe') && diskFull(job.stdoutPath)) {
        outputError = outputFailure(Object.assign(new Error('no space left'), { code: 'ENOSPC' }), job.stdoutPath);
      }
      return { exitCode: code, signal, ...(outputError ? { outputError } : {}) };
    })();

    const stdin = child.stdin;
    const write = (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (!stdin || stdin.destroyed || stdin.writableEnded) {
          reject(new FractaError('session_closed', 'the agent no longer reads messages (its input is closed)'));
          return;
        }
        stdin.write(text, (error) => (error ? reject(new FractaError('session_closed', `could not write to the agent: ${error.message}`)) : resolve()));
      });
    if (job.stdin !== undefined) {
      if (job.keepStdinOpen) await write(job.stdin).catch(() => undefined);
      else stdin?.end(job.stdin);
    }

    return {
      pid,
      exited,
      terminate: () => killGroup(pid, job.killGraceMs),
      write,
      endInput: () => {
        if (stdin && !stdin.writableEnded) stdin.end();
      },
    };
  },
};
