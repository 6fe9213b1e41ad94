/**
 * Which fracta.yaml is in use: --config, else FRACTA_CONFIG, else ./fracta.yaml, else
 * $FRACTA_HOME/fracta.yaml, else the built-ins. Its own module, free of the schema, so that the MCP
 * server can find it before it loads the core (mcp/tool-list.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fractaHome } from '../paths.js';

export interface ConfigLocation {
  /** The file to read, or null for the built-in defaults. */
  readonly path: string | null;
  /** Whether the user named it (--config, FRACTA_CONFIG): then it must exist. */
  readonly explicit: boolean;
}

export function locateConfig(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ConfigLocation {
  if (flag) return { path: path.resolve(cwd, flag), explicit: true };
  if (env.FRACTA_CONFIG) return { path: path.resolve(cwd, env.FRACTA_CONFIG), explicit: true };
  for (const candidate of [path.join(cwd, 'fracta.yaml'), path.join(fractaHome(env), 'fracta.yaml')]) {
    if (fs.existsSync(candidate)) return { path: candidate, explicit: false };
  }
  return { path: null, explicit: false };
}
