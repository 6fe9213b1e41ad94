/**
 * The per-run GEMINI_CLI_HOME. Gemini reads MCP servers only from settings.json, so each run gets a
 * home of its own under the workspace's .fracta/ folder: the user's settings and servers stay
 * untouched, the child sees only the servers fracta gives it, and its session store lives with the
 * workspace its sessions resume from. The user's login is carried over by linking their credential
 * files (links, not copies, so a token the child refreshes is refreshed for the user too).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { FRACTA_DIR } from '../bootstrap.js';
import { parseSettings } from './settings.js';
import { jsonFile, type WorkspaceFile } from '../../workspace/files.js';

/** GEMINI_CLI_HOME of a run, relative to its workspace; gemini keeps everything in its .gemini/ folder. */
export const HOME_DIR = `${FRACTA_DIR}/gemini`;
/** Keeps the agent's file tools out of fracta's folder, where the credential links are. */
export const IGNORE_FILE = `${FRACTA_DIR}/gemini-ignore`;

/** Files in ~/.gemini that hold a login or identity (OAuth, the encrypted keychain file, MCP OAuth tokens, .env). */
export const AUTH_FILES = [
  'oauth_creds.json',
  'google_accounts.json',
  'gemini-credentials.json',
  'mcp-oauth-tokens.json',
  'a2a-oauth-tokens.json',
  'installation_id',
  '.env',
] as const;

export function runHome(workdir: string): string {
  return path.join(workdir, HOME_DIR);
}

/** The folder whose .gemini/ holds the user's own gemini settings and login: what gemini itself would use. */
export function userHome(env: Readonly<Record<string, string | undefined>>, fallback: string): string {
  return env.GEMINI_CLI_HOME || env.HOME || fallback;
}

/** The user's settings.json, or {} when there is none or it cannot be read. */
export async function readUserSettings(home: string): Promise<Record<string, unknown>> {
  try {
    return parseSettings(await fsp.readFile(path.join(home, '.gemini', 'settings.json'), 'utf8'));
  } catch {
    return {};
  }
}

/** A link at `relative` (in the workspace) to the user's `target`, or nothing when the user has no such file. */
async function linkTo(workdir: string, target: string, relative: string): Promise<WorkspaceFile[]> {
  let real: string;
  try {
    // The real file: a home that is itself a run's home (a gemini child spawning through fracta) links through.
    real = await fsp.realpath(target);
  } catch {
    return [];
  }
  if (path.resolve(real) === path.resolve(workdir, relative)) return [];
  return [{ path: relative, linkTo: real }];
}

/**
 * The run's home: its folder (0700), links to the user's credential files, settings.json and the
 * ignore file. Written like every workspace file: real folders inside the workspace or a refusal, as
 * a link there would take the settings (and the credential links) wherever it points.
 */
export async function runHomeFiles(workdir: string, fromHome: string, settings: Record<string, unknown>): Promise<WorkspaceFile[]> {
  const files: WorkspaceFile[] = [{ path: path.join(HOME_DIR, '.gemini'), folder: true }, { path: HOME_DIR, folder: true }];
  if (path.resolve(fromHome) !== path.resolve(runHome(workdir))) {
    for (const file of AUTH_FILES) files.push(...(await linkTo(workdir, path.join(fromHome, '.gemini', file), path.join(HOME_DIR, '.gemini', file))));
    // gemini also reads <home>/.env, where home is GEMINI_CLI_HOME.
    files.push(...(await linkTo(workdir, path.join(fromHome, '.env'), path.join(HOME_DIR, '.env'))));
  }
  files.push(jsonFile(path.join(HOME_DIR, '.gemini', 'settings.json'), settings), { path: IGNORE_FILE, content: `${FRACTA_DIR}/\n` });
  return files;
}

