/**
 * `fracta doctor`: a runtime whose CLI is missing, one whose variable is unset, one that works, a
 * real run of claude against the scripted model server, a cluster that answers and one that does
 * not; every problem with its fix, no value of a secret in the report, and exit 0 only when all works.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeCluster } from './kube/fake-apiserver.js';
import { ECHO_AGENT, FIXTURE_CONFIG, claudeRuntime, makeSandbox, onCleanup, runCleanups, runCli, type Sandbox } from './helpers/harness.js';
import { startModelServer } from './model-server/anthropic.js';

afterEach(runCleanups);

const SECRET = 'sk-doctor-secret-value-7f3a91';

function doctor(sandbox: Sandbox, args: string[], env: Record<string, string> = {}) {
  return runCli(['doctor', ...args, '--config', sandbox.configPath], { env: { ...sandbox.env, ...env }, cwd: sandbox.dir });
}

interface Report {
  ok: boolean;
  general: Array<{ check: string; state: string; detail: string; fix?: string }>;
  runtimes: Array<{ runtime: string; ok: boolean; checks: Array<{ check: string; state: string; detail: string; fix?: string }> }>;
}

function checkOf(report: Report, runtime: string, check: string) {
  return report.runtimes.find((entry) => entry.runtime === runtime)?.checks.find((entry) => entry.check === check);
}

describe('fracta doctor', () => {
  it('a runtime whose CLI is missing fails with the fix, and the exit code says so', async () => {
    const sandbox = makeSandbox();
    const result = await doctor(sandbox, ['missing-cli']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL {2}command: my-agent-that-is-not-installed is not found on PATH\n\s+fix: install it, or set command: to its path in fracta\.yaml/);
    expect(result.stdout).toContain('problems found (runtimes: missing-cli)');
  });

  it('a runtime whose variable is unset names the variable; once set, it passes and its value is nowhere in the report', async () => {
    const sandbox = makeSandbox();
    const unset = await doctor(sandbox, ['secretive']);
    expect(unset.code).toBe(1);
    expect(unset.stdout).toMatch(/FAIL {2}variables: FRACTA_TEST_SECRET is not set \(named in env: of runtime "secretive"\)\n\s+fix: set FRACTA_TEST_SECRET where fracta starts/);
    const set = await doctor(sandbox, ['secretive', '--run'], { FRACTA_TEST_SECRET: SECRET });
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('ok    variables: every variable its env: names is set');
    const json = await doctor(sandbox, ['secretive', '--json', '--run'], { FRACTA_TEST_SECRET: SECRET });
    for (const output of [set.stdout, set.stderr, json.stdout, json.stderr]) expect(output).not.toContain(SECRET);
  });

  it('a runtime that works passes, and --run reports a real run with its time', async () => {
    const sandbox = makeSandbox();
    const result = await doctor(sandbox, ['echo-agent', '--run', '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.ok).toBe(true);
    expect(checkOf(report, 'echo-agent', 'command')).toMatchObject({ state: 'ok', detail: ECHO_AGENT });
    expect(checkOf(report, 'echo-agent', 'run')!.detail).toMatch(/^a one-line task succeeded in \d+\.\d s, cost unknown \(run [\w-]+\): echo: Reply with the single word OK/);
    expect(report.general.map((check) => [check.check, check.state])).toEqual([
      ['fracta.yaml', 'ok'],
      ['FRACTA_HOME', 'ok'],
      ['git', 'ok'],
    ]);
  });

  it('--run against the scripted model server: the real claude answers, with its time and cost; its version is the tested one', async () => {
    const model = await startModelServer();
    onCleanup(() => model.close());
    const sandbox = makeSandbox(`agents:\n  kill_grace_s: 1\n  agent_runtimes:\n${claudeRuntime('claude', model.url, '/CLAUDE-DIR')}`);
    for (const sub of ['claude-home', 'claude-tmp']) fs.mkdirSync(path.join(sandbox.dir, sub));
    fs.writeFileSync(sandbox.configPath, fs.readFileSync(sandbox.configPath, 'utf8').replaceAll('/CLAUDE-DIR', sandbox.dir));
    const result = await doctor(sandbox, ['claude', '--run', '--json']);
    const report = JSON.parse(result.stdout) as Report;
    expect(checkOf(report, 'claude', 'version')!.detail).toMatch(/^\d+\.\d+\.\d+ \(the version fracta is tested with\)$/);
    expect(checkOf(report, 'claude', 'login')).toMatchObject({ state: 'ok', detail: 'ANTHROPIC_API_KEY is set' });
    expect(checkOf(report, 'claude', 'run')!.detail).toMatch(/^a one-line task succeeded in \d+\.\d s, \$\d+(\.\d+)? \(run [\w-]+\): FAKE-OK: Reply with the single word OK/);
    expect(result.code).toBe(0);
    expect(model.requests.length).toBeGreaterThan(0);
  });

  it("a CLI of another version is a warning naming the tested one; no login is a failure naming how to sign in", async () => {
    const sandbox = makeSandbox();
    const bin = path.join(sandbox.dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'claude'), '#!/bin/sh\necho "0.0.1 (Claude Code)"\n', { mode: 0o755 });
    fs.writeFileSync(sandbox.configPath, `agents:\n  agent_runtimes:\n    old-claude:\n      adapter: claude\n      command: ${path.join(bin, 'claude')}\n      env: { HOME: ${sandbox.dir} }\n`);
    const env: Record<string, string> = { ...sandbox.env };
    for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'CLAUDE_CONFIG_DIR']) delete env[name];
    const result = await runCli(['doctor', 'old-claude', '--json', '--config', sandbox.configPath], { env, cwd: sandbox.dir });
    const report = JSON.parse(result.stdout) as Report;
    expect(checkOf(report, 'old-claude', 'version')).toMatchObject({ state: 'warn', detail: expect.stringMatching(/^0\.0\.1; fracta is tested with \d+\.\d+\.\d+$/) });
    expect(checkOf(report, 'old-claude', 'login')).toMatchObject({ state: 'fail', fix: expect.stringContaining('sign in (/login)') });
    expect(checkOf(report, 'old-claude', 'login')!.detail).toContain(path.join(sandbox.dir, '.claude', '.credentials.json'));
    expect(result.code).toBe(1);
    // Signed in: the CLI's own credentials file is a login.
    fs.mkdirSync(path.join(sandbox.dir, '.claude'));
    fs.writeFileSync(path.join(sandbox.dir, '.claude', '.credentials.json'), '{"claudeAiOauth":{"accessToken":"never-read"}}');
    const signedIn = await runCli(['doctor', 'old-claude', '--config', sandbox.configPath], { env, cwd: sandbox.dir });
    expect(signedIn.stdout).toContain('ok    login: signed in');
    expect(signedIn.stdout).not.toContain('never-read');
    expect(signedIn.code).toBe(0);
  });

  it('a cluster that answers passes; one that refuses fails with the fix', async () => {
    const cluster = await startFakeCluster();
    onCleanup(() => cluster.close());
    const sandbox = makeSandbox();
    const kubeconfig = (server: string) => {
      const file = path.join(sandbox.dir, `kubeconfig-${server.replace(/\W/g, '')}.yaml`);
      fs.writeFileSync(file, `apiVersion: v1\nkind: Config\nclusters:\n  - name: c\n    cluster: { server: "${server}", insecure-skip-tls-verify: true }\nusers:\n  - name: u\n    user: { token: t }\ncontexts:\n  - name: c\n    context: { cluster: c, user: u, namespace: agents }\ncurrent-context: c\n`);
      return file;
    };
    const runtime = (name: string, file: string) => `    ${name}:\n      adapter: command\n      command: ${ECHO_AGENT}\n      backend: kubernetes\n      kubernetes: { namespace: agents, image: registry.example/echo:1, kubeconfig: ${file} }\n`;
    fs.writeFileSync(sandbox.configPath, FIXTURE_CONFIG.replace('  agent_runtimes:\n', `  agent_runtimes:\n${runtime('on-cluster', kubeconfig(cluster.url))}${runtime('off-cluster', kubeconfig('http://127.0.0.1:1'))}`));
    const result = await doctor(sandbox, ['on-cluster', 'off-cluster', '--json']);
    const report = JSON.parse(result.stdout) as Report;
    expect(checkOf(report, 'on-cluster', 'cluster')).toMatchObject({ state: 'ok', detail: 'namespace agents answers (0 Job(s) of this install)' });
    expect(checkOf(report, 'off-cluster', 'cluster')).toMatchObject({ state: 'fail', fix: expect.stringContaining('docs/kubernetes/rbac.yaml') });
    expect(result.code).toBe(1);
  });

  it('a broken fracta.yaml and an unknown runtime are failures that say what to do', async () => {
    const sandbox = makeSandbox();
    const unknown = await doctor(sandbox, ['echo-agnet']);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('FAIL  runtime: no runtime "echo-agnet" (did you mean "echo-agent"?)');
    fs.writeFileSync(sandbox.configPath, 'agents:\n  max_concurrent: lots\n');
    const broken = await doctor(sandbox, []);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/FAIL {2}fracta\.yaml: .*agents\.max_concurrent/);
  });
});
