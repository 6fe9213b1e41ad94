/**
 * Where a run's process lives, behind one contract: the local backend runs it on this machine, the
 * kubernetes backend (executor/kubernetes/) as a Job on a cluster. A plan picks the backend and binds
 * the run's own settings into a RunTarget; the runner only starts and watches what it is given.
 * The executor knows nothing of MCP, of runs' records or of plans.
 */
import type { FractaError } from '../errors.js';
import type { RunRecord } from '../record.js';
import type { WorkspaceFile } from '../workspace/files.js';

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
  /**
   * The files the run needs in its workspace, put there before the process starts (a later turn of
   * the same run has none: they are there already).
   */
  readonly files?: readonly WorkspaceFile[];
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
  /** What the record says of where the run lives, once the backend knows more than the plan did (the kubeconfig context a Job went to). */
  readonly place?: RunPlace;
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
  /** Starts the job; rejects with a FractaError when it cannot start (command missing, say). */
  start(job: Job): Promise<RunningJob>;
}

/** The record's account of where a run lives: this machine, or a Job on a cluster (to cancel or reconcile it later). */
export type RunPlace = Pick<RunRecord, 'backend' | 'kubernetes'>;

/** Where a plan sends one run: a backend with the run's own settings bound in. */
export interface RunTarget extends ExecutionBackend {
  /** Known before the run starts, for its first record. */
  readonly place: RunPlace;
  /**
   * Whether a streamed run outlives its first turn (messages, a process per turn). A pod has no
   * stdin and its session ends with it: one turn.
   */
  readonly multiTurn: boolean;
  /** A repository the backend clones into the workspace itself (a pod's init container), for the record. */
  readonly clone?: { readonly url: string; readonly baseBranch: string; readonly branch: string };
}
