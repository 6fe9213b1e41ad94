/**
 * Where a spawn sits in a chain of agents, and what a child inherits to spawn in the same chain. A
 * child agent has the FRACTA_* variables in its environment and can set them to anything, so they
 * only name a claim: the parent run must exist here and be running, and (where /proc tells) this very
 * process must descend from the parent's agent process. Depth and root come from the parent's record.
 */
import fs from 'node:fs';
import { FractaError } from '../errors.js';
import type { McpServerEntry } from '../host/host.js';
import { chainEnv, FRACTA_ENV } from '../names.js';
import { isRunId } from '../run-id.js';
import type { RunRecord } from '../record.js';
import { selfCommand } from '../self.js';
import { statFields } from '../processes.js';

/** The chain a spawn joins, as verified from the parent's record: the environment only names the claim. */
export interface ParentChain {
  readonly parentRun: string | null;
  /** The root of the chain; undefined for a root spawn (its own run id). */
  readonly rootRun: string | undefined;
  /** 1 for a spawn from a user's client, 2 for one made by that run's agent, ... */
  readonly depth: number;
}

/** Where a run sits in a chain of agents spawning agents. */
export interface Lineage {
  readonly parentRun: string | null;
  readonly rootRun: string;
  /** 1 for a spawn from a user's client, 2 for one made by that run's agent, ... */
  readonly depth: number;
}

/**
 * fracta's own MCP server as the agent of run `runId` gets it: the same config and state folder as
 * this fracta, and the chain in its environment, so what the agent spawns is that run's child.
 */
export function fractaServerFor(runId: string, lineage: Lineage, home: string, configFile: string | null): McpServerEntry {
  const self = selfCommand();
  return {
    command: self.command,
    args: [...self.args, 'mcp', ...(configFile ? ['--config', configFile] : [])],
    env: { [FRACTA_ENV.HOME]: home, ...chainEnv(runId, lineage.rootRun, lineage.depth) },
  };
}

export const ROOT_LINEAGE: ParentChain = Object.freeze({ parentRun: null, rootRun: undefined, depth: 1 });

/** How far up the process tree to look for the parent's agent (a shell, a node, an MCP server...). */
const MAX_ANCESTORS = 64;

function claimError(variable: string, message: string): FractaError {
  return new FractaError('chain_invalid', `${variable}: ${message}`, variable);
}

/** The parent pid of `pid`, from /proc; undefined where it cannot be read. */
function parentOf(pid: number): number | undefined {
  const parent = statFields(pid)?.[1];
  return parent === undefined ? undefined : Number(parent);
}

/** Whether `ancestor` is this process or one of its ancestors; undefined where there is no /proc to tell. */
export function descendsFrom(ancestor: number, self = process.pid): boolean | undefined {
  if (!fs.existsSync('/proc/self/stat')) return undefined;
  let pid: number | undefined = self;
  for (let step = 0; step < MAX_ANCESTORS && pid !== undefined && pid > 1; step++) {
    if (pid === ancestor) return true;
    pid = parentOf(pid);
  }
  return false;
}

/**
 * The lineage of a spawn made by this process. `readRecord` reads a run's record (throws when there
 * is none). Every refusal is chain_invalid, named after the variable that makes the claim.
 */
export async function verifyLineage(env: NodeJS.ProcessEnv, readRecord: (runId: string) => Promise<RunRecord>): Promise<ParentChain> {
  const claimed = env[FRACTA_ENV.PARENT_RUN];
  const depth = env[FRACTA_ENV.DEPTH];
  if (depth !== undefined && depth !== '' && !/^[1-9][0-9]{0,5}$/.test(depth)) {
    throw claimError('FRACTA_DEPTH', `"${depth.slice(0, 40)}" is not a positive whole number; fracta sets it for the agents it starts: leave it as it was given, or unset it (with FRACTA_PARENT_RUN) for a spawn that is not part of a chain`);
  }
  const root = env[FRACTA_ENV.ROOT_RUN];
  if (root !== undefined && root !== '' && !isRunId(root)) {
    throw claimError('FRACTA_ROOT_RUN', `"${String(root).slice(0, 40)}" is not a run id; leave it as fracta gave it, or unset it`);
  }
  if (claimed === undefined || claimed === '') return ROOT_LINEAGE;
  if (!isRunId(claimed)) {
    throw claimError('FRACTA_PARENT_RUN', `"${String(claimed).slice(0, 40)}" is not a run id; leave it as fracta gave it, or unset it for a spawn that is not part of a chain`);
  }
  let parent: RunRecord;
  try {
    parent = await readRecord(claimed);
  } catch {
    throw claimError('FRACTA_PARENT_RUN', `no run ${claimed} in this FRACTA_HOME, so this spawn cannot be its child; unset FRACTA_PARENT_RUN for a spawn that is not part of a chain`);
  }
  if (parent.status !== 'running') {
    throw claimError('FRACTA_PARENT_RUN', `run ${claimed} is ${parent.status}, and only a running run's agent spawns children; unset FRACTA_PARENT_RUN for a spawn that is not part of a chain`);
  }
  if (parent.pid === null || descendsFrom(parent.pid) === false) {
    throw claimError(
      'FRACTA_PARENT_RUN',
      `this process is not part of run ${claimed}'s process tree (its agent is pid ${parent.pid ?? 'none'}), so it cannot spawn as that run's child; unset FRACTA_PARENT_RUN for a spawn that is not part of a chain`,
    );
  }
  return { parentRun: claimed, rootRun: parent.root_run || parent.run_id, depth: parent.depth + 1 };
}
