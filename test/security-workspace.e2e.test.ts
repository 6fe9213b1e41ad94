/**
 * Security: nothing fracta writes lands outside the workspace, whatever links the repository holds,
 * and a repository outside agents.workspace.allowed_repo_roots is never worked on. Real git
 * repositories, the real server over stdio.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLAUDE, ECHO_AGENT, ROOT, onCleanup, runCleanups, startServer, structured, text } from './helpers/harness.js';

afterEach(runCleanups);

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

function tempDir(prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A repository whose commit holds `.fracta` (or a file in it) as a link to `target`, outside it. */
function hostileRepo(link: '.fracta' | '.fracta/task.md' | '.fracta/mcp.json', target: string): string {
  const repo = tempDir('fracta-hostile-');
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.name', 'Mallory');
  git(repo, 'config', 'user.email', 'mallory@example.invalid');
  fs.writeFileSync(path.join(repo, 'README.md'), '# innocent\n');
  fs.mkdirSync(path.join(repo, path.dirname(link)), { recursive: true });
  fs.symlinkSync(target, path.join(repo, link));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'looks harmless');
  return repo;
}

/** Every file under a folder with its content: what must be the same before and after. */
function snapshot(folder: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(folder, { recursive: true }) as string[]) {
    const file = path.join(folder, name);
    out[name] = fs.lstatSync(file).isFile() ? fs.readFileSync(file, 'utf8') : 'dir';
  }
  return out;
}

function config(extra = ''): string {
  return `
agents:
  default_runtime: echo-agent
  kill_grace_s: 1
${extra}
  agent_runtimes:
    echo-agent:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      env:
        AGENT_TOKEN: "\${FRACTA_TEST_SECRET}"
    claude:
      adapter: claude
      command: ${CLAUDE}
      env:
        ANTHROPIC_BASE_URL: http://127.0.0.1:1
        ANTHROPIC_API_KEY: sk-ant-never-used
`;
}

const SECRET = 'tok-Branch-Secret-77';

describe('writes stay inside the workspace', () => {
  for (const mode of ['worktree', 'copy', 'inplace'] as const) {
    it(`a repository whose .fracta is a link to a folder outside: refused in ${mode} mode, nothing written there`, async () => {
      const outside = tempDir('fracta-outside-');
      fs.writeFileSync(path.join(outside, 'precious.txt'), 'keep me\n');
      const repo = hostileRepo('.fracta', outside);
      const before = snapshot(outside);
      const server = await startServer({ config: config() });
      // claude with agent_mcp: the MCP config written there would carry the child's environment.
      const result = await server.call('spawn', { task: 'look around', runtime: 'claude', agent_mcp: true, repo, workspace: mode });
      const record = structured(result);
      expect(record).toMatchObject({ status: 'failed', error: { code: 'workspace_failed' } });
      expect(record.error.message).toMatch(/\.fracta in the workspace .* is a symbolic link \(to .*fracta-outside-.*\); fracta writes its own files there and never through a link/);
      expect(record.pid).toBeNull();
      expect(snapshot(outside)).toEqual(before);
      // The user's checkout keeps what it had, the link included.
      expect(fs.lstatSync(path.join(repo, '.fracta')).isSymbolicLink()).toBe(true);
      expect(git(repo, 'status', '--porcelain')).toBe('');
    });
  }

  for (const file of ['.fracta/task.md', '.fracta/mcp.json'] as const) {
    it(`a repository whose ${file} is a link to a file outside: refused, the file keeps its content`, async () => {
      const outside = tempDir('fracta-outside-');
      const victim = path.join(outside, 'victim.txt');
      fs.writeFileSync(victim, 'original\n');
      const repo = hostileRepo(file, victim);
      const server = await startServer({ config: config() });
      const record = structured(await server.call('spawn', { task: 'look around', runtime: 'claude', agent_mcp: true, repo }));
      expect(record).toMatchObject({ status: 'failed', error: { code: 'workspace_failed' } });
      expect(record.error.message).toContain(`${file} in the workspace`);
      expect(fs.readFileSync(victim, 'utf8')).toBe('original\n');
    });
  }

  it('a run that works fine still writes its files, inside its own real .fracta folder', async () => {
    const server = await startServer({ config: config(), env: { FRACTA_TEST_SECRET: SECRET } });
    const record = structured(await server.call('spawn', { task: 'hello', cleanup: 'keep' }));
    expect(record.status).toBe('succeeded');
    const own = path.join(record.workspace, '.fracta');
    expect(fs.lstatSync(own).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(own, 'task.md'), 'utf8')).toBe('hello\n');
  });
});

describe('allowed_repo_roots', () => {
  it('a folder inside the root that belongs to a repository outside it is refused', async () => {
    const top = tempDir('fracta-monorepo-');
    git(top, 'init', '-q', '-b', 'main');
    git(top, 'config', 'user.name', 'T');
    git(top, 'config', 'user.email', 't@example.invalid');
    fs.mkdirSync(path.join(top, 'allowed'));
    fs.writeFileSync(path.join(top, 'allowed', 'a.txt'), 'a\n');
    fs.writeFileSync(path.join(top, 'secret-plans.txt'), 'not for agents\n');
    git(top, 'add', '-A');
    git(top, 'commit', '-q', '-m', 'init');
    const server = await startServer({ config: config(`  workspace:\n    allowed_repo_roots: ["${path.join(top, 'allowed')}"]`), env: { FRACTA_TEST_SECRET: SECRET } });
    for (const workspace of ['worktree', 'inplace'] as const) {
      const result = await server.call('spawn', { task: 'x', repo: path.join(top, 'allowed'), workspace });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/\[invalid_input\] repo: .*allowed belongs to the repository .*fracta-monorepo-\w+, which is outside the folders fracta may work on \(agents\.workspace\.allowed_repo_roots/);
    }
    expect(git(top, 'branch', '--list')).toBe('* main');
    // A plain copy of that folder alone stays allowed: only the folder is copied.
    const copied = structured(await server.call('spawn', { task: 'x', repo: path.join(top, 'allowed'), workspace: 'copy', cleanup: 'keep' }));
    expect(copied.status).toBe('succeeded');
    expect(fs.existsSync(path.join(copied.workspace, 'secret-plans.txt'))).toBe(false);
  });
});

describe('branch names', () => {
  it('a secret in the task never becomes part of the branch fracta makes in the repository', async () => {
    const repo = tempDir('fracta-repo-');
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'config', 'user.name', 'T');
    git(repo, 'config', 'user.email', 't@example.invalid');
    fs.writeFileSync(path.join(repo, 'README.md'), '# r\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'init');
    const server = await startServer({ config: config(), env: { FRACTA_TEST_SECRET: SECRET } });
    const record = structured(await server.call('spawn', { task: `use ${SECRET} to log in`, repo, cleanup: 'keep' }));
    expect(record.status).toBe('succeeded');
    const branches = git(repo, 'branch', '--list', '--format=%(refname:short)');
    expect(branches).toContain(record.git.branch);
    expect(branches.toLowerCase()).not.toContain(SECRET.toLowerCase());
    expect(record.git.branch).toMatch(/^fracta\/use-to-log-in-/);
  });
});
