import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** fracta's state folder: run records, logs and workspaces. */
export function fractaHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.FRACTA_HOME ? path.resolve(env.FRACTA_HOME) : path.join(os.homedir(), '.fracta');
}

/**
 * The marker the fracta given to a run's agent (agent_mcp) leaves in the run's folder once the agent
 * has connected to it. Written without loading anything else: it must be there before the agent's
 * first turn can end.
 */
export function markMcpConnected(env: NodeJS.ProcessEnv, runId: string): void {
  try {
    // 'wx': once is enough, and nothing a child put in its place is written through.
    fs.writeFileSync(mcpMarkerPath(fractaHome(env), runId), `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  } catch {
    // there already, or the run's folder is not (the claim is checked where it matters)
  }
}

export function mcpMarkerPath(home: string, runId: string): string {
  return path.join(home, 'runs', path.basename(runId), 'mcp-connected');
}
