import os from 'node:os';
import path from 'node:path';

/** fracta's state folder: run records, logs and workspaces. */
export function fractaHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.FRACTA_HOME ? path.resolve(env.FRACTA_HOME) : path.join(os.homedir(), '.fracta');
}
