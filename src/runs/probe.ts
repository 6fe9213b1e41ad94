/**
 * `fracta runtimes --probe`: start each agent that can say what it can (an ACP agent), ask it
 * (`initialize`), keep the answer under `$FRACTA_HOME/probes/`, and stop it. Bounded: an agent that
 * does not answer within PROBE_MS is stopped and said to be silent.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionBackend } from '../executor/backend.js';
import type { AgentProbe } from '../host/host.js';
import { writeProbe, type Probe } from '../probes.js';
import { findCommand } from '../executor/which.js';

const PROBE_MS = 30_000;

export interface ProbeTarget {
  readonly runtime: string;
  readonly probe: AgentProbe;
  /** The agent's environment, as a run of the runtime gets it. */
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly string[];
  readonly baseDir: string;
}

export async function probeAgent(target: ProbeTarget, home: string, backend: ExecutionBackend, killGraceMs: number): Promise<Probe> {
  const { runtime, probe } = target;
  const dir = path.join(home, 'probes', `${path.basename(runtime)}.run`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const done = (advertised: Probe['advertised'], error: string | null): Probe => {
    const result: Probe = { runtime, probed_at: new Date().toISOString(), advertised, error };
    writeProbe(home, result);
    return result;
  };
  const command = findCommand(probe.command.command, target.env.PATH, target.baseDir);
  if (!command) return done(null, `\`${probe.command.command}\` is not on PATH: install it, or set command to its absolute path in fracta.yaml`);
  let job;
  try {
    job = await backend.start({
      runId: `probe-${runtime}`,
      command,
      args: probe.command.args,
      cwd: dir,
      env: { ...target.env, ...probe.command.env },
      stdin: undefined,
      keepStdinOpen: true,
      onStdoutLine: (line) => probe.line(line),
      stdoutPath: path.join(dir, 'stdout.log'),
      stderrPath: path.join(dir, 'stderr.log'),
      killGraceMs,
      secrets: target.secrets,
    });
  } catch (error) {
    return done(null, (error as Error).message);
  }
  probe.start((text) => job.write(text));
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`it did not answer initialize within ${PROBE_MS / 1000} s`)), PROBE_MS)));
  const exited = job.exited.then((exit) => Promise.reject(new Error(`it exited (${exit.signal ?? `code ${exit.exitCode}`}) before answering initialize; see ${path.join(dir, 'stderr.log')}`)));
  try {
    return done(await Promise.race([probe.answer, silent, exited]), null);
  } catch (error) {
    return done(null, (error as Error).message);
  } finally {
    clearTimeout(timer);
    await job.terminate();
  }
}
