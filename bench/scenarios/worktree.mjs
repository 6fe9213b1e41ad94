/**
 * Worktree creation: a `spawn` with `repo` (a git workspace for the run) of a 10,000-file repository,
 * against a plain `git worktree add -b BRANCH PATH HEAD` (what fracta asks git for) of the same
 * repository, and against the same spawn without `repo`. Measured only when `spawn`'s input
 * schema has a `repo` property; until then the row says it is not available yet.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { baseEnv, config, FIXTURES, makeSandbox, now, paired, spawnRecord, startFracta, stats } from '../lib.mjs';

const FILES = 10_000;

function git(args, cwd) {
  return execFileSync('git', args, { cwd, env: baseEnv({ GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.invalid' }), stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function makeRepo(dir) {
  fs.mkdirSync(dir, { recursive: true });
  git(['init', '-q', '-b', 'main'], dir);
  for (let index = 0; index < FILES; index++) {
    const folder = path.join(dir, `src/d${String(Math.floor(index / 100)).padStart(3, '0')}`);
    if (index % 100 === 0) fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, `f${index}.txt`), `file ${index}\n${'x'.repeat(index % 200)}\n`);
  }
  git(['add', '-A'], dir);
  git(['commit', '-q', '-m', 'ten thousand files'], dir);
}

export function worktreeAvailable(tools) {
  const spawn = tools.find((tool) => tool.name === 'spawn');
  return Boolean(spawn?.inputSchema?.properties?.repo);
}

export async function worktree({ rounds, warmups, tools, log }) {
  if (!worktreeAvailable(tools)) {
    return [
      {
        section: 'Worktree',
        name: `\`spawn\` with \`repo\` (${FILES.toLocaleString('en')}-file repo) against \`git worktree add\``,
        unavailable: 'not available yet: `spawn` has no `repo` option in this build',
        target: { kind: 'none', text: '(no target set)' },
        meaning: 'What a git workspace per run costs on top of what git itself needs to check the files out.',
      },
    ];
  }
  const sandbox = makeSandbox('worktree', config({ 'tiny-sh': ['adapter: command', `command: ${path.join(FIXTURES, 'tiny.sh')}`, 'output: text'] }, { default_runtime: 'tiny-sh' }));
  const repo = path.join(sandbox.dir, 'repo');
  makeRepo(repo);
  log('worktree: repository ready');
  const server = await startFracta(sandbox);
  const times = { repo: [], plain: [], git: [] };
  let failure;
  for (let round = 0; round < warmups + rounds && !failure; round++) {
    try {
      let started = now();
      const record = await spawnRecord(server, { task: 'say ok', runtime: 'tiny-sh', repo, wait_s: 50 });
      const withRepo = now() - started;
      if (record.git && !record.git.branch) throw new Error(`the run's record has no branch: ${JSON.stringify(record.git).slice(0, 200)}`);
      started = now();
      await spawnRecord(server, { task: 'say ok', runtime: 'tiny-sh', wait_s: 50 });
      const plain = now() - started;
      const target = path.join(sandbox.dir, `wt-${round}`);
      started = now();
      // What fracta asks git for: a worktree on a new branch at the base commit.
      git(['worktree', 'add', '-q', '-b', `bench-${round}`, '--', target, 'HEAD'], repo);
      const gitMs = now() - started;
      git(['worktree', 'remove', '--force', target], repo);
      git(['branch', '-q', '-D', `bench-${round}`], repo);
      if (round >= warmups) {
        times.repo.push(withRepo);
        times.plain.push(plain);
        times.git.push(gitMs);
      }
    } catch (error) {
      failure = error.message;
    }
  }
  await server.close();
  if (failure) {
    return [
      {
        section: 'Worktree',
        name: `\`spawn\` with \`repo\` (${FILES.toLocaleString('en')}-file repo) against \`git worktree add\``,
        unavailable: `failed: ${failure.slice(0, 200)}`,
        target: { kind: 'none', text: '(no target set)' },
        meaning: 'What a git workspace per run costs on top of what git itself needs to check the files out.',
      },
    ];
  }
  return [
    {
      section: 'Worktree',
      name: `\`spawn\` with \`repo\` (${FILES.toLocaleString('en')}-file repo), tiny shell CLI: call → result`,
      fracta: stats(times.repo),
      floorName: '`git worktree add -b` of the same repo',
      floor: stats(times.git),
      ...paired(times.repo, times.git),
      target: { kind: 'none', text: '(no target set)' },
      meaning: 'What a git workspace per run costs: the floor is git\'s own checkout; the rest is fracta plus the run itself.',
    },
    {
      section: 'Worktree',
      name: 'the workspace\'s share: spawn with `repo` minus the same spawn without',
      fracta: stats(times.repo.map((value, index) => value - times.plain[index])),
      floorName: '`git worktree add -b` of the same repo',
      floor: stats(times.git),
      target: { kind: 'none', text: '(no target set)' },
      meaning: 'fracta\'s worktree handling next to git doing the same checkout by hand.',
    },
  ];
}
