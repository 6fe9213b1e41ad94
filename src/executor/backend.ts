/**
 * Where a run's process lives. `local` runs it on this machine; a Kubernetes backend will run it as a
 * Job behind the same interface. The executor knows nothing of MCP.
 */
import type { FractaError } from '../errors.js';
import type { KubernetesLocation, KubernetesRun } from './kubernetes/types.js';

export interface Job {
  readonly runId: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The complete environment of the child. */
  readonly env: Readonly<Record<string, string>>;
  /** Written to stdin, which is then closed (unless keepStdinOpen); absent, stdin is closed from the start. */
  readonly stdin: string | undefined;
  /** A live session: stdin stays open for write() until endInput(). */
  readonly keepStdinOpen?: boolean;
  /** Each line of stdout as the child writes it (the log file gets every byte regardless). */
  readonly onStdoutLine?: (line: string) => void;
  /** Called whenever the child writes anything, on stdout or stderr (for idle_timeout_s). */
  readonly onOutput?: () => void;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /** Time between SIGTERM and SIGKILL when the process tree is stopped. */
  readonly killGraceMs: number;
  /** Values masked (***) in everything the child writes, before it reaches a file or a parser. */
  readonly secrets?: readonly string[];
  /** Set for a run on the kubernetes backend: what the pod is made of (`env` above is never sent there). */
  readonly kubernetes?: KubernetesRun;
}

export interface JobExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Set when the process could not be started at all. */
  readonly startError?: FractaError;
  /** The backend itself ended the run at its deadline (a Job's activeDeadlineSeconds). */
  readonly deadlineExceeded?: boolean;
  /** The output could not be kept whole (a full disk): the run fails with this, whatever the agent said. */
  readonly outputError?: FractaError;
}

export interface RunningJob {
  /** The child's pid, which is also its process group id; null where the run is not a local process. */
  readonly pid: number | null;
  /** Where a run that is not a local process lives (its Job on a cluster), for cancel and reconcile. */
  readonly location?: KubernetesLocation;
  /** Settles once the child has exited, what it left of its tree is reaped and the logs are flushed. */
  readonly exited: Promise<JobExit>;
  /** Stops the whole process tree: SIGTERM, then SIGKILL after the grace. */
  terminate(): Promise<void>;
  /** Writes to the stdin of a live session. */
  write(text: string): Promise<void>;
  /** Closes the stdin of a live session: the CLI's cue to finish. */
  endInput(): void;
}

export interface ExecutionBackend {
  readonly name: string;
  /** Starts the job; rejects with a FractaError when it cannot start (command missing, say). */
  start(job: Job): Promise<RunningJob>;
}
