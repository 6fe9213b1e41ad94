/**
 * The local backend: the child runs with execa from an argument array (no shell), as the leader of
 * its own process group, with stdout and stderr streamed to files so that a huge output never sits
 * in memory.
 */
import { FractaError } from '../errors.js';
import type { ExecutionBackend, Job, JobExit, RunningJob } from './backend.js';
import { killGroup } from './process-group.js';
import { masked, splitLines, toFile } from './output.js';

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
