/**
 * The one way fracta writes into a workspace. A workspace holds whatever its repository committed,
 * links included, and a resumed run's workspace holds whatever an earlier child left there: a
 * `.fracta` that is a link to another folder would carry fracta's files (the child's MCP config, with
 * its environment) out of the workspace. So every folder on the way to a file must be a real folder
 * inside the workspace, and the file itself is never opened through a link.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FractaError } from '../errors.js';

function refuse(workdir: string, at: string, what: string): never {
  const relative = path.relative(workdir, at);
  throw new FractaError(
    'workspace_failed',
    `${relative} in the workspace ${workdir} is ${what}; fracta writes its own files there and never through a link: remove it from the repository (or the workspace), then spawn again`,
  );
}

function describeLink(at: string): string {
  try {
    return `a symbolic link (to ${fs.readlinkSync(at)})`;
  } catch {
    return 'a symbolic link';
  }
}

/** The target inside the workspace, or a refusal for a path that leaves it (`../x`, an absolute path). */
function inside(workdir: string, relative: string): string {
  const target = path.resolve(workdir, relative);
  if (!target.startsWith(workdir + path.sep)) {
    throw new FractaError('workspace_failed', `fracta was asked to write ${relative}, which is outside the workspace ${workdir}`);
  }
  return target;
}

/** Makes each missing folder from the workspace down to `folder`; refuses a link or a file on the way. */
function realFolders(workdir: string, folder: string, made: Set<string> | undefined): void {
  if (folder === workdir || made?.has(folder)) return;
  let at = workdir;
  for (const part of path.relative(workdir, folder).split(path.sep)) {
    at = path.join(at, part);
    if (made?.has(at)) continue;
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (stat === undefined) fs.mkdirSync(at, { mode: 0o700 });
    else if (stat.isSymbolicLink()) refuse(workdir, at, describeLink(at));
    else if (!stat.isDirectory()) refuse(workdir, at, 'not a folder');
    made?.add(at);
  }
}

/** A folder inside the workspace (made when missing), every part of it a real folder. */
export function folderInside(workdir: string, relative: string, made?: Set<string>): string {
  const target = inside(workdir, relative);
  realFolders(workdir, target, made);
  return target;
}

/**
 * Writes a file inside the workspace (mode 0600), replacing a regular file there; refuses when the
 * file or any folder on its way is a link. `made` remembers folders checked already, for a writer
 * with several files.
 */
export function writeInside(workdir: string, relative: string, content: string, made?: Set<string>): string {
  const target = inside(workdir, relative);
  realFolders(workdir, path.dirname(target), made);
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (existing?.isSymbolicLink()) refuse(workdir, target, describeLink(target));
  // A FIFO or a device would block the open, or do something else than store a file.
  if (existing && !existing.isFile()) refuse(workdir, target, 'not a regular file');
  let fd: number;
  try {
    // O_NOFOLLOW and O_NONBLOCK: a link or a FIFO put there since the look above fails here, at once.
    const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
    fd = fs.openSync(target, flags, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') refuse(workdir, target, describeLink(target));
    if (code === 'ENXIO') refuse(workdir, target, 'not a regular file');
    throw error;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) refuse(workdir, target, 'not a regular file');
    fs.writeFileSync(fd, content);
  } finally {
    fs.closeSync(fd);
  }
  return target;
}
