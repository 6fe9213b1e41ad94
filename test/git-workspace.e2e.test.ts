/**
 * Runs on real git repositories made in temporary folders: each run in its own worktree and branch,
 * what the agent changed reported back, the user's checkout untouched, cleanup the git way.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ECHO_AGENT, onCleanup, runCleanups, runCli, startServer, structured, text } from './helpers/harness.js';

afterEach(runCleanups);

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

/** A repository with a couple of commits on main and a feature branch; the user has uncommitted work. */
function makeRepo(): string {
  const repo = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-repo-')));
  onCleanup(() => fs.rmSync(repo, { recursive: true, force: true }));
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.name', 'Test User');
  git(repo, 'config', 'user.email', 'test@example.invalid');
  fs.writeFileSync(path.join(repo, 'README.md'), '# project\n');
  fs.writeFileSync(path.join(repo, 'app.js'), 'console.log(1);\n');
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'first');
  git(repo, 'checkout', '-q', '-b', 'feature-login');
  fs.appendFileSync(path.join(repo, 'app.js'), 'login();\n');
  git(repo, 'commit', '-q', '-am', 'login');
  git(repo, 'checkout', '-q', 'main');
  return repo;
}

function config(extra = ''): string {
  return `
agents:
  default_runtime: echo-agent
  max_concurrent: 10
  max_runtime_concurrent: 10
${extra}
  agent_runtimes:
    echo-agent:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
`;
}

function snapshot(repo: string) {
  return { head: git(repo, 'rev-parse', 'HEAD'), branch: git(repo, 'branch', '--show-current'), status: git(repo, 'status', '--porcelain'), app: fs.readFileSync(path.join(repo, 'app.js'), 'utf8') };
}

describe('git worktrees', () => {
  it('an agent that commits a change comes back with its branch, one commit and the diff; the checkout is untouched', async () => {
    const repo = makeRepo();
    fs.writeFileSync(path.join(repo, 'notes.txt'), 'uncommitted user work\n');
    const before = snapshot(repo);
    const server = await startServer({ config: config() });
    const record = structured(await server.call('spawn', { task: 'Fix the login bug! @commit=app.js', repo }));
    expect(record).toMatchObject({ status: 'succeeded', workspace_mode: 'worktree' });
    expect(record.git.branch).toMatch(/^fracta\/fix-the-login-bug-commit-app-js-[0-9a-f]{8}$/);
    expect(record.git).toMatchObject({ repo, base_branch: 'main', base_commit: before.head });
    expect(record.git.commits).toEqual([{ sha: expect.stringMatching(/^[0-9a-f]{40}$/), subject: 'echo-agent: edit app.js' }]);
    expect(record.git.uncommitted).toEqual([]);
    expect(record.git.diff).toEqual({ files: [{ path: 'app.js', insertions: 1, deletions: 0 }], insertions: 1, deletions: 0 });
    // fracta's own files are in the workspace but in no commit and no diff.
    expect(fs.existsSync(path.join(record.workspace, '.fracta', 'task.md'))).toBe(true);
    expect(git(record.workspace, 'show', '--name-only', '--format=', 'HEAD')).toBe('app.js');
    expect(snapshot(repo)).toEqual(before);
    expect(git(repo, 'log', '--format=%s', '-1', record.git.branch)).toBe('echo-agent: edit app.js');
    expect(record.warnings.join(' ')).not.toMatch(/uncommitted changes/);
  });

  it('starts from base_branch, reports uncommitted work, and warns when the checkout has uncommitted changes', async () => {
    const repo = makeRepo();
    fs.appendFileSync(path.join(repo, 'README.md'), 'local edit\n');
    const server = await startServer({ config: config() });
    const record = structured(await server.call('spawn', { task: '@edit=app.js', repo, base_branch: 'feature-login', branch: 'agent/try-1' }));
    expect(record.git).toMatchObject({ branch: 'agent/try-1', base_branch: 'feature-login', commits: [], uncommitted: [{ status: 'M', path: 'app.js' }] });
    expect(record.git.diff.files).toEqual([{ path: 'app.js', insertions: 1, deletions: 0 }]);
    expect(fs.readFileSync(path.join(record.workspace, 'app.js'), 'utf8')).toContain('login();');
    expect(record.warnings.join(' ')).toMatch(/has uncommitted changes; the run starts from feature-login without them/);
  });

  it('ten runs on one repository at once each get their own worktree and branch; cleanup keeps only branches with commits', async () => {
    const repo = makeRepo();
    const server = await startServer({ config: config() });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        server.call('spawn', { task: index % 2 === 0 ? `change ${index} @commit=file-${index}.txt` : `look ${index}`, repo, cleanup: 'always', wait_s: 50 }, { timeout: 90_000 }),
      ),
    );
    const records = results.map(structured);
    expect(records.filter((record) => record.status !== 'succeeded').map((record) => record.error)).toEqual([]);
    expect(new Set(records.map((record) => record.git.branch)).size).toBe(10);
    expect(git(repo, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
    const branches = git(repo, 'branch', '--format=%(refname:short)').split('\n').filter((name) => name.startsWith('fracta/'));
    expect(branches.sort()).toEqual(records.filter((_, index) => index % 2 === 0).map((record) => record.git.branch).sort());
    for (const [index, record] of records.entries()) {
      expect(record.workspace_removed).toBe(true);
      expect(record.git.branch_kept).toBe(index % 2 === 0);
      expect(record.git.commits).toHaveLength(index % 2 === 0 ? 1 : 0);
    }
  });

  it('copy works on a plain folder, and inplace leaves no fracta files in the checkout', async () => {
    const folder = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-plain-')));
    onCleanup(() => fs.rmSync(folder, { recursive: true, force: true }));
    fs.writeFileSync(path.join(folder, 'data.txt'), 'original\n');
    const server = await startServer({ config: config() });
    const copied = structured(await server.call('spawn', { task: '@edit=data.txt', repo: folder, workspace: 'copy' }));
    expect(copied).toMatchObject({ status: 'succeeded', workspace_mode: 'copy', git: null });
    expect(fs.readFileSync(path.join(copied.workspace, 'data.txt'), 'utf8')).toMatch(/original\nchange by echo-agent/);
    expect(fs.readFileSync(path.join(folder, 'data.txt'), 'utf8')).toBe('original\n');

    const repo = makeRepo();
    const inplace = structured(await server.call('spawn', { task: '@edit=app.js', repo, workspace: 'inplace' }));
    expect(inplace).toMatchObject({ status: 'succeeded', workspace_mode: 'inplace', workspace: repo });
    expect(inplace.git.uncommitted).toEqual([{ status: 'M', path: 'app.js' }]);
    expect(inplace.warnings.join(' ')).toMatch(/two runs in one checkout at once will collide/);
    expect(fs.existsSync(path.join(repo, '.fracta'))).toBe(false);
  });

  it('fracta clean removes workspaces of ended runs and never one a running run uses', async () => {
    const repo = makeRepo();
    const server = await startServer({ config: config() });
    const done = structured(await server.call('spawn', { task: 'done @commit=a.txt', repo }));
    const running = structured(await server.call('spawn', { task: '@sleep=30', repo, wait_s: 0 }));
    const shell = { env: server.sandbox.env, cwd: server.sandbox.dir };
    const cleaned = await runCli(['clean', '--older-than', '0', '--json', '--config', path.join(server.sandbox.dir, 'fracta.yaml')], shell);
    expect(JSON.parse(cleaned.stdout)).toEqual({ removed: [done.run_id], failed: [] });
    expect(fs.existsSync(done.workspace)).toBe(false);
    expect(fs.existsSync(running.workspace)).toBe(true);
    expect(git(repo, 'branch', '--format=%(refname:short)')).toContain(done.git.branch);
    const after = structured(await server.call('status', { run_id: done.run_id }));
    expect(after).toMatchObject({ workspace_removed: true, git: { branch_kept: true } });
    await server.call('cancel', { run_id: running.run_id });
  });
});

describe('bad input is refused before anything starts', () => {
  it('names the field and says what to do', async () => {
    const repo = makeRepo();
    const plain = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-notgit-')));
    onCleanup(() => fs.rmSync(plain, { recursive: true, force: true }));
    const server = await startServer({ config: config() });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ repo: plain }, /\[invalid_input\] repo: .* is not a git repository \(for a plain folder, use workspace: copy\)/],
      [{ repo: path.join(plain, 'nope') }, /\[invalid_input\] repo: .* is not a folder/],
      [{ repo, base_branch: 'feature-logn' }, /\[invalid_input\] base_branch: "feature-logn" does not exist in .*; close names: feature-login/],
      [{ repo, branch: '../escape' }, /\[invalid_input\] branch: "..\/escape" is not a usable branch name: it holds "\.\."/],
      [{ repo, branch: 'has space' }, /branch: "has space" is not a usable branch name: it holds white space/],
      [{ repo, branch: 'a@{b' }, /branch: "a@\{b" is not a usable branch name: it holds "@\{"/],
      [{ repo, branch: '-delete' }, /spawn\.branch: must not start with "-" \(it would be read as an option of the agent's CLI\)/],
      [{ repo, branch: 'main' }, /branch: "main" exists already/],
      [{ workspace: 'inplace' }, /workspace: a workspace mode needs repo/],
    ];
    for (const [args, expected] of cases) {
      const result = await server.call('spawn', { task: 'x', ...args });
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(text(result)).toMatch(expected);
    }
    expect(fs.existsSync(path.join(server.sandbox.home, 'runs'))).toBe(false);
    expect(git(repo, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  });

  it('a repository outside allowed_repo_roots is refused', async () => {
    const repo = makeRepo();
    const allowed = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-allowed-')));
    onCleanup(() => fs.rmSync(allowed, { recursive: true, force: true }));
    const server = await startServer({ config: config(`  workspace:\n    allowed_repo_roots: ["${allowed}"]`) });
    const result = await server.call('spawn', { task: 'x', repo });
    expect(text(result)).toMatch(/\[invalid_input\] repo: .* is outside the folders fracta may work on \(agents\.workspace\.allowed_repo_roots: /);
  });
});
