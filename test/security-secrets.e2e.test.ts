/**
 * Security: a secret never leaves fracta unmasked, in any of the forms an agent writes it. The real
 * claude against a scripted Anthropic API on 127.0.0.1 answers with a secret that holds `"`, `\`,
 * `/`, `<`, `&` and a non-ASCII letter (so its JSON on the wire is escaped), and the task holds it too:
 * no file under FRACTA_HOME, no git branch, no event, no progress notification and no result has it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodedForms } from '../src/secrets.js';
import { ECHO_AGENT, claudeRuntime, onCleanup, runCleanups, startServer, structured, text } from './helpers/harness.js';
import { startModelServer } from './model-server/anthropic.js';

afterEach(runCleanups);

/** Its two ends are what the assertions look for: any form of the secret, whole or cut, holds one. */
const SECRET = 'Qx7Zq9Lm"a\\b/c<d>&é-Kw7s3VbR';
const FRAGMENTS = ['Qx7Zq9Lm', 'Kw7s3VbR'];

function tempDir(prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function expectNoSecret(what: string, value: string): void {
  for (const fragment of FRAGMENTS) expect(value, what).not.toContain(fragment);
}

function filesUnder(folder: string): string[] {
  return (fs.readdirSync(folder, { recursive: true }) as string[]).map((name) => path.join(folder, name)).filter((file) => fs.lstatSync(file).isFile());
}

async function setup() {
  const model = await startModelServer();
  onCleanup(() => model.close());
  const dir = tempDir('fracta-secrets-');
  for (const sub of ['claude-home', 'claude-tmp']) fs.mkdirSync(path.join(dir, sub));
  const repo = path.join(dir, 'repo');
  fs.mkdirSync(repo);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '--allow-empty', '-m', 'start');
  const config = `
agents:
  default_runtime: claude
  kill_grace_s: 1
  agent_runtimes:${claudeRuntime('claude', model.url, dir, '', { DEPLOY_TOKEN: '${FRACTA_TEST_SECRET}' })}
    short-secret:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      env:
        PIN_TOKEN: "\${FRACTA_TEST_PIN}"
`;
  const server = await startServer({ config, env: { FRACTA_TEST_SECRET: SECRET, FRACTA_TEST_PIN: 'abc' } });
  // The model answers with the secret, as an agent that read it from its environment would.
  model.setReply(() => ({ type: 'text', text: `the token is ${SECRET} (keep it safe)` }));
  return { server, model, repo, git };
}

describe('secrets in every form', () => {
  it('the encoded forms cover what JSON encoders write', () => {
    const forms = encodedForms(SECRET);
    expect(forms).toContain(JSON.stringify(SECRET).slice(1, -1));
    expect(forms.some((form) => form.includes('\\/'))).toBe(true);
    expect(forms.some((form) => form.includes('\\u00e9'))).toBe(true);
    expect(forms.some((form) => form.includes('\\u00E9'))).toBe(true);
    expect(forms.some((form) => form.includes('\\u003c'))).toBe(true);
    expect(encodedForms('plainLettersAnd123')).toEqual(['plainLettersAnd123']);
  });

  it('an answer and a task holding the secret reach no file, branch, event, notification or result, batch and live', async () => {
    const { server, repo, git } = await setup();
    const results: unknown[] = [];
    const batch = await server.call('spawn', { task: `deploy with ${SECRET} now`, repo, workspace: 'worktree', wait_s: 50 }, { timeout: 70_000 });
    results.push(batch);
    const record = structured(batch);
    expect(record.status).toBe('succeeded');
    expect(record.output).toBe('the token is *** (keep it safe)');
    expect(record.task_preview).toBe('deploy with *** now');

    const progress: string[] = [];
    const live = await server.call('spawn', { task: `live with ${SECRET}`, stream: true, wait_s: 50 }, { onprogress: (note) => progress.push(note.message ?? ''), timeout: 70_000 });
    results.push(live);
    const session = structured(live);
    expect(session).toMatchObject({ status: 'running', awaiting_input: true, output: 'the token is *** (keep it safe)' });
    expect(progress.some((line) => line.includes('says: the token is ***'))).toBe(true);
    results.push(await server.call('close', { run_id: session.run_id }));
    results.push(await server.call('runs', {}), await server.call('status', { run_id: record.run_id }));
    results.push(await server.client.readResource({ uri: record.log_uri }));

    for (const result of results) expectNoSecret('an MCP answer', JSON.stringify(result));
    for (const line of progress) expectNoSecret('a progress notification', line);
    expectNoSecret('the branches', git('branch', '--list', '--all'));
    // Not the workspaces: they are the child's, and hold the task it was given (with the secret the
    // caller put in it) for it to read.
    const files = filesUnder(server.sandbox.home).filter((file) => !file.startsWith(path.join(server.sandbox.home, 'workspaces') + path.sep));
    expect(files.some((file) => file.endsWith('stdout.log'))).toBe(true);
    expect(files.some((file) => file.endsWith('events.jsonl'))).toBe(true);
    for (const file of files) expectNoSecret(file, fs.readFileSync(file, 'utf8'));
    // The escaped answer was in the stream and is masked there, not only dropped.
    const events = fs.readFileSync(session.events_path, 'utf8');
    expect(events).toContain('the token is ***');
  });

  it('an error raised before a run starts is masked', async () => {
    const { server } = await setup();
    const refused = await server.call('spawn', { task: 'hi', runtime: `x${SECRET}` });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('***');
    expectNoSecret('the refusal', JSON.stringify(refused));
  });

  it('a secret too short to mask is named in the run\'s warnings', async () => {
    const { server } = await setup();
    const record = structured(await server.call('spawn', { task: 'hi', runtime: 'short-secret' }));
    expect(record.status).toBe('succeeded');
    expect(record.warnings.join('\n')).toMatch(/env\.PIN_TOKEN is shorter than 4 characters and is not masked/);
  });
});
