/**
 * A streamed run's turns. Every streamed run has a LiveSession that parses its output into events and
 * ends a turn on each result. A host with live input (encodeMessage) takes the next message on the
 * same process's stdin; one without it ends its process with each turn, and the next message starts
 * a new process that resumes the session, handed to the run's watcher while it waits between turns.
 */
import { FractaError } from '../errors.js';
import type { RunningJob } from '../executor/backend.js';
import type { StreamSpec } from '../host/host.js';
import type { Result } from '../events.js';
import { sessionBusy } from './cross-process.js';
import { EventLog } from './event-log.js';
import type { Run } from './run.js';
import { LiveSession } from './session.js';
import type { RunStore } from './store.js';
import { applyResult } from './terminal.js';
import { askAbove } from './ask.js';
import { maskSecrets } from '../secrets.js';

/** A turn's result may come a moment before its process is gone: how long a message waits for that. */
const HANDOVER_MS = 1_000;

/**
 * The session of a streamed run. `takesMessages` is false where the run ends with its one turn (a
 * pod has no stdin, and its session ends with it): nobody is told to send.
 */
export function openSession(run: Run, spec: StreamSpec, store: RunStore, multiTurn: boolean, onExpired: (reason: 'timeout' | 'idle' | 'close') => void): LiveSession {
  const { plan } = run;
  const log = new EventLog(store.eventsPath(plan.runId), plan.childEnv.secrets);
  // A batch run over a protocol is a session of one turn, closed when its turn is done.
  const takesMessages = multiTurn && spec.singleTurn !== true;
  const mask = (text: string) => maskSecrets(text, plan.childEnv.secrets);
  return new LiveSession(spec, log, { turnTimeoutMs: plan.timeoutS * 1000, idleMs: plan.sessionIdleMs }, {
    onEvent: (event) => {
      if (event.type === 'init' && event.session_id && run.record.resume_token === null) run.update({ resume_token: event.session_id });
      run.emit(event);
    },
    onTurnDone: (turn) => {
      const session = run.session!;
      const result = session.turnsDone === 1 ? checkMcpConnected(run, spec, store, turn) : turn;
      // Without the tools it was given, the session goes no further: the check's failure is how it ends.
      const toolless = result !== turn;
      session.lastResult = result;
      // A turn ends on its result: a process that lingers after it is not waited for.
      if (!session.live && run.job) {
        const job = run.job;
        const linger = setTimeout(() => void job.terminate(), plan.killGraceMs);
        void job.exited.then(() => clearTimeout(linger));
      }
      run.update({ ...applyResult(run.record, result, plan.childEnv.secrets), awaiting_input: takesMessages && !toolless, turns_done: session.turnsDone });
      if (takesMessages && !toolless) run.turnEnded();
      else if (spec.singleTurn || toolless) onExpired('close');
    },
    onExpired,
    // The runtime's allow-list said nothing: its approvals decide, then the chain above, then the timeout (deny).
    onPermission: async (tool, input) => (await askAbove(store, plan.runId, plan.approvals, { kind: 'permission', tool, input }, mask)).decision === 'allow',
  });
}

/**
 * Some ACP agents silently drop the MCP servers they are given. The fracta given to the agent says
 * when the agent connected; one that has not by the end of its first turn never got fracta's tools,
 * and a spawn that asked for them (agent_mcp) fails, with the first turn's answer kept.
 */
function checkMcpConnected(run: Run, spec: StreamSpec, store: RunStore, result: Result): Result {
  if (!spec.protocol || run.plan.request.agent_mcp !== true || store.mcpConnected(run.runId)) return result;
  return {
    ...result,
    isError: true,
    errorCode: 'capability_missing',
    errorMessage: `the agent of runtime "${run.plan.resolved.runtime.name}" (${spec.command}) did not connect to the fracta MCP server it was given (agent_mcp) by the end of its first turn: it dropped the server, so it has none of fracta's tools. Check that the agent takes MCP servers over ACP (gemini --acp needs GEMINI_CLI_TRUST_WORKSPACE=true in the runtime's env), or spawn without agent_mcp`,
  };
}

/** The next turn of a session without live input: a new process resuming the session, handed to the watcher. */
export async function nextTurn(run: Run, session: LiveSession, message: string, start: (spec: StreamSpec) => Promise<RunningJob>): Promise<void> {
  const { plan } = run;
  if (run.phase !== 'between_turns' && session.awaitingInput && run.job) {
    await run.job.exited;
    await run.leftRunning(HANDOVER_MS);
  }
  if (run.phase !== 'between_turns') throw sessionBusy();
  const spec = plan.resolved.host.buildStreamCommand({
    ...plan.commandInput,
    prompt: message,
    resumeToken: session.sessionId ?? run.record.resume_token ?? plan.commandInput.resumeToken,
  });
  session.beginTurn(message);
  let job: RunningJob;
  try {
    job = await start(spec);
  } catch (error) {
    session.abandonTurn();
    throw error;
  }
  // Stopped while the process started: nothing would watch it.
  if (run.phase !== 'between_turns') {
    await job.terminate();
    throw new FractaError('session_closed', `run ${run.runId} is closing and takes no more messages`);
  }
  run.job = job;
  session.attach(job, spec);
  run.update({ pid: job.pid, awaiting_input: false });
  run.openGate(job);
}
