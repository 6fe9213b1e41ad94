/**
 * The local backend: the child runs with execa from an argument array (no shell), as the leader of
 * its own process group, with stdout and stderr streamed to files so that a huge output never sits
 * in memory.
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { Transform, type Readable } from 'node:stream';
import { StreamMasker } from '../config/env.js';
import { FractaError } from '../errors.js';
import type { ExecutionBackend, Job, JobExit, RunningJob } from './backend.js';
import { killGroup } from './process-group.js';

/** After the tree is reaped, how long to wait for pipes held open by a process that left the group. */
const DRAIN_MS = 2_000;

/** A line longer than this is passed on in pieces rather than held whole (the file has all of it). */
const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** Calls onLine for each complete line of the stream, as it arrives. */
function splitLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return;
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (line: string) => {
    try {
      onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    } catch {
      // A listener's failure must not break the child's output.
    }
  };
  stream.on('data', (chunk: Buffer) => {
    pending += decoder.write(chunk);
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      emit(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
    if (pending.length > MAX_LINE_CHARS) {
      emit(pending);
      pending = '';
    }
  });
  stream.once('end', () => {
    pending += decoder.end();
    if (pending) emit(pending);
  });
}

/**
 * The child's output as fracta may keep it: with every secret masked before it reaches a file, a
 * parser or a result. Without secrets, the stream itself.
 */
function masked(stream: Readable | null, secrets: readonly string[]): Readable | null {
  if (!stream || secrets.length === 0) return stream;
  const decoder = new StringDecoder('utf8');
  const masker = new StreamMasker(secrets);
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, masker.push(decoder.write(chunk)));
    },
    flush(done) {
      done(null, masker.push(decoder.end()) + masker.end());
    },
  });
  stream.pipe(transform);
  stream.once('error', (error) => transform.destroy(error));
  return transform;
}

function toFile(stream: Readable | null, file: string): Promise<void> {
  const sink = fs.createWriteStream(file, { flags: 'a', mode: 0o600 });
  if (!stream) {
    sink.end();
    return new Promise((resolve) => sink.once('close', () => resolve()));
  }
  return pipeline(stream, sink).catch(() => undefined);
}

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

export const localBackend: ExecutionBackend = {
  name: 'local',

  async start(job: Job): Promise<RunningJob> {
    // Loaded on first spawn, so that a server that only lists tools starts without it.
    const { execa } = await import('execa');
    const subprocess = execa(job.command, [...job.args], {
      cwd: job.cwd,
      env: job.env,
      extendEnv: false,
      detached: true,
      cleanup: false,
      buffer: false,
      reject: false,
      windowsHide: true,
      stdin: job.stdin === undefined && !job.keepStdinOpen ? 'ignore' : 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      ...(job.stdin === undefined || job.keepStdinOpen ? {} : { input: job.stdin }),
    });
    const stdout = masked(subprocess.stdout, job.secrets ?? []);
    const stderr = masked(subprocess.stderr, job.secrets ?? []);
    if (job.onStdoutLine) splitLines(stdout, job.onStdoutLine);
    if (job.onOutput) {
      const onOutput = job.onOutput;
      subprocess.stdout?.on('data', () => onOutput());
      subprocess.stderr?.on('data', () => onOutput());
    }
    // A child that stops reading its stdin must not crash fracta with EPIPE.
    subprocess.stdin?.on('error', () => undefined);
    const outputs = Promise.all([toFile(stdout, job.stdoutPath), toFile(stderr, job.stderrPath)]);

    const spawned = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      subprocess.once('spawn', () => resolve(undefined));
      subprocess.once('error', (error) => resolve(error as NodeJS.ErrnoException));
    });
    const settled = subprocess.then(
      () => undefined,
      () => undefined,
    );
    if (spawned || subprocess.pid === undefined) {
      await Promise.race([outputs, settled]);
      throw startError(job, spawned ?? new Error('no process id'));
    }
    const pid = subprocess.pid;

    const leaderExit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      subprocess.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const exited = (async (): Promise<JobExit> => {
      const { code, signal } = await leaderExit;
      // The leader is done: whatever it left running in its group goes too.
      await killGroup(pid, job.killGraceMs);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([outputs, settled]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, DRAIN_MS);
        }),
      ]);
      clearTimeout(timer);
      subprocess.stdout?.destroy();
      subprocess.stderr?.destroy();
      stdout?.destroy();
      stderr?.destroy();
      return { exitCode: code, signal };
    })();

    const stdin = subprocess.stdin;
    const write = (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (!stdin || stdin.destroyed || stdin.writableEnded) {
          reject(new FractaError('session_closed', 'the agent no longer reads messages (its input is closed)'));
          return;
        }
        stdin.write(text, (error) => (error ? reject(new FractaError('session_closed', `could not write to the agent: ${error.message}`)) : resolve()));
      });
    if (job.keepStdinOpen && job.stdin !== undefined) await write(job.stdin).catch(() => undefined);

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
