/**
 * `fracta doctor`: one command that says why a runtime does not work. For each runtime asked about:
 * its CLI found and its version (and whether fracta was tested with it), the variables its `env`
 * names, the CLI's own login, a cluster that answers for the kubernetes backend, and on request a
 * real one-line run; then fracta.yaml, FRACTA_HOME and git. Every problem names its fix; no value of
 * a variable or a login file is ever read into the report, only whether it is there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { Fracta } from '../service.js';
import type { FractaConfig } from '../config/runtime.js';
import { cliFacts } from '../host/cli-facts.js';
import { findCommand } from '../executor/which.js';
import { fractaHome } from '../paths.js';
import { didYouMean } from '../did-you-mean.js';
import { fillReferences, referencedVariables } from '../config/env.js';
import type { RuntimeInfo } from '../runtime-info.js';

export type CheckState = 'ok' | 'warn' | 'fail';

export interface Check {
  readonly check: string;
  readonly state: CheckState;
  readonly detail: string;
  /** What to do about it, for warn and fail. */
  readonly fix?: string;
}

export interface RuntimeReport {
  readonly runtime: string;
  readonly adapter: string;
  readonly ok: boolean;
  readonly checks: Check[];
}

export interface DoctorReport {
  /** Everything asked for works (warnings allowed). */
  readonly ok: boolean;
  readonly general: Check[];
  readonly runtimes: RuntimeReport[];
}

export interface DoctorOptions {
  /** Runtimes to check; none: every configured one. */
  readonly runtimes: readonly string[];
  /** Also spawn a one-line task on each. */
  readonly run: boolean;
  readonly env: NodeJS.ProcessEnv;
}

/** `--version` of a CLI that may not know the flag and then wait on stdin: bounded, its whole group killed. */
const VERSION_TIMEOUT_MS = 20_000;
/** A smoke run is one line: two minutes is far more than any agent needs to say OK. */
const SMOKE_TIMEOUT_S = 120;
const SMOKE_TASK = 'Reply with the single word OK and nothing else.';

const ok = (check: string, detail: string): Check => ({ check, state: 'ok', detail });
const warn = (check: string, detail: string, fix: string): Check => ({ check, state: 'warn', detail, fix });
const fail = (check: string, detail: string, fix: string): Check => ({ check, state: 'fail', detail, fix });

/** The versions fracta's own package.json pins for the agent CLIs (its dev dependencies): what the tests ran. */
function testedVersions(): Record<string, string> {
  try {
    const manifest = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { devDependencies?: Record<string, string> };
    return manifest.devDependencies ?? {};
  } catch {
    return {};
  }
}

async function versionOf(file: string, env: Record<string, string>): Promise<string | undefined> {
  const result = await execa(file, ['--version'], { env, extendEnv: false, stdin: 'ignore', reject: false, timeout: VERSION_TIMEOUT_MS, forceKillAfterDelay: 1000, cleanup: true, detached: false });
  return /\d+\.\d+\.\d+(?:-[\w.]+)?/.exec(`${result.stdout}\n${result.stderr}`)?.[0];
}

/** The child's environment as far as the doctor needs it: fracta's, with the runtime's env on top (references filled where they can be). */
function childEnv(templates: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  for (const [key, template] of Object.entries(templates)) out[key] = fillReferences(template, env);
  return out;
}

async function checkRuntime(fracta: Fracta, config: FractaConfig, info: RuntimeInfo, options: DoctorOptions, tested: Record<string, string>): Promise<RuntimeReport> {
  const name = info.name;
  const runtime = config.runtimes.get(name)!;
  const checks: Check[] = [];
  const env = childEnv(runtime.env, options.env);
  const facts = cliFacts(info.command, runtime.adapter);
  const onCluster = runtime.backend === 'kubernetes';

  // The variables fracta.yaml says the child needs.
  const named = referencedVariables(runtime.env);
  const missing = named.filter((variable) => !options.env[variable]);
  if (missing.length > 0) {
    checks.push(fail('variables', `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set (named in env: of runtime "${name}")`, `set ${missing.join(' and ')} where fracta starts (for an MCP client, in the "env" of its server entry)`));
  } else if (named.length > 0) {
    checks.push(ok('variables', 'every variable its env: names is set'));
  }

  if (onCluster) {
    checks.push(ok('command', `${info.command} runs in the image ${runtime.kubernetes?.image ?? '(none set)'}: not looked for here`));
    try {
      const jobs = await fracta.reachCluster(name);
      checks.push(ok('cluster', `namespace ${runtime.kubernetes?.namespace} answers (${jobs} Job(s) of this install)`));
    } catch (error) {
      checks.push(fail('cluster', `the cluster did not let fracta list Jobs in namespace ${runtime.kubernetes?.namespace ?? '-'}: ${(error as Error).message}`, 'check kubernetes.kubeconfig/context in fracta.yaml and the RBAC in docs/kubernetes/rbac.yaml'));
    }
  } else {
    const file = findCommand(info.command, env.PATH, config.baseDir);
    if (!file) {
      checks.push(fail('command', `${info.command} is not found on PATH`, facts ? `install it (${facts.install}), or set command: to its path in fracta.yaml` : `install it, or set command: to its path in fracta.yaml`));
    } else {
      checks.push(ok('command', file));
      if (facts) {
        const version = await versionOf(file, env);
        const pinned = tested[facts.package];
        if (!version) checks.push(warn('version', `${file} --version gave no version`, `check that ${file} is the ${info.command} CLI`));
        else if (!pinned) checks.push(ok('version', version));
        else if (pinned === version) checks.push(ok('version', `${version} (the version fracta is tested with)`));
        else checks.push(warn('version', `${version}; fracta is tested with ${pinned}`, `if something misbehaves, try ${facts.package}@${pinned}`));
      }
    }
  }

  if (facts?.login && !onCluster) {
    const variable = facts.login.variables.find((candidate) => env[candidate]);
    const file = facts.login.files(env).find((candidate) => fs.existsSync(candidate));
    if (variable) checks.push(ok('login', `${variable} is set`));
    else if (file) checks.push(ok('login', `signed in (${file})`));
    else checks.push(fail('login', `no credentials: none of ${facts.login.variables.join(', ')} is set and ${facts.login.files(env).join(', ')} does not exist`, facts.login.how));
  }

  if (options.run) checks.push(await smokeRun(fracta, name));
  return { runtime: name, adapter: runtime.adapter, ok: checks.every((check) => check.state !== 'fail'), checks };
}

async function smokeRun(fracta: Fracta, runtime: string): Promise<Check> {
  const begun = Date.now();
  try {
    const { record } = await fracta.start({ task: SMOKE_TASK, runtime, timeout_s: SMOKE_TIMEOUT_S, wait_s: 0, cleanup: 'always' });
    const ended = await fracta.waitForEnd(record.run_id);
    const seconds = ((Date.now() - begun) / 1000).toFixed(1);
    const cost = ended.cost_usd === null || ended.cost_usd === undefined ? 'cost unknown' : `$${ended.cost_usd}`;
    if (ended.status === 'succeeded') return ok('run', `a one-line task succeeded in ${seconds} s, ${cost} (run ${ended.run_id}): ${(ended.output ?? '').trim().split('\n')[0]!.slice(0, 80)}`);
    return fail('run', `a one-line task ${ended.status} after ${seconds} s (run ${ended.run_id}): [${ended.error?.code ?? ended.status}] ${ended.error?.message ?? ''}`, `read its log: fracta logs ${ended.run_id} --stderr`);
  } catch (error) {
    return fail('run', `the run could not start: ${(error as Error).message}`, 'fix what the message names, then run fracta doctor again');
  }
}

function checkHome(env: NodeJS.ProcessEnv): Check {
  const home = fractaHome(env);
  const probe = path.join(home, `.doctor-${process.pid}`);
  try {
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
    return ok('FRACTA_HOME', `${home} is writable`);
  } catch (error) {
    return fail('FRACTA_HOME', `${home} is not writable: ${(error as Error).message}`, 'point FRACTA_HOME at a folder of yours (default ~/.fracta)');
  }
}

async function checkGit(env: NodeJS.ProcessEnv): Promise<Check> {
  const git = findCommand('git', env.PATH, process.cwd());
  if (!git) return fail('git', 'git is not found on PATH (runs with repo: and worktrees need it)', 'install git');
  const version = await execa(git, ['--version'], { stdin: 'ignore', reject: false, timeout: VERSION_TIMEOUT_MS });
  return ok('git', version.stdout.trim() || git);
}

export async function doctor(fracta: Fracta, options: DoctorOptions): Promise<DoctorReport> {
  const general: Check[] = [];
  let config: FractaConfig | undefined;
  try {
    config = fracta.config();
    general.push(ok('fracta.yaml', config.source ? `${config.source} is valid` : 'none found: the built-in defaults are in use'));
  } catch (error) {
    general.push(fail('fracta.yaml', (error as Error).message, 'fix the field it names (fracta runtimes shows the config once it loads)'));
  }
  general.push(checkHome(options.env), await checkGit(options.env));
  const runtimes: RuntimeReport[] = [];
  if (config) {
    const known = [...config.runtimes.keys()];
    const unknown = options.runtimes.filter((name) => !config.runtimes.has(name));
    for (const name of unknown) general.push(fail('runtime', `no runtime "${name}"${didYouMean(name, known)}`, `use one of ${known.join(', ')}`));
    const asked = options.runtimes.length > 0 ? options.runtimes.filter((name) => config.runtimes.has(name)) : known;
    const tested = testedVersions();
    const infos = new Map(fracta.runtimes().map((info) => [info.name, info]));
    // At once: a slow --version (gemini takes seconds to start) holds up no other runtime's checks.
    runtimes.push(...(await Promise.all(asked.map((name) => checkRuntime(fracta, config, infos.get(name)!, options, tested)))));
  }
  return { ok: general.every((check) => check.state !== 'fail') && runtimes.every((runtime) => runtime.ok), general, runtimes };
}

export function formatDoctor(report: DoctorReport): string {
  const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
  const line = (check: Check) => `  ${mark[check.state]}  ${check.check}: ${check.detail}${check.fix ? `\n        fix: ${check.fix}` : ''}`;
  const lines = ['fracta', ...report.general.map(line)];
  for (const runtime of report.runtimes) lines.push('', `runtime ${runtime.runtime} (${runtime.adapter})`, ...runtime.checks.map(line));
  const failing = report.runtimes.filter((runtime) => !runtime.ok).map((runtime) => runtime.runtime);
  lines.push(
    '',
    report.ok
      ? 'everything checked works'
      : `problems found${failing.length ? ` (runtimes: ${failing.join(', ')})` : ''}: each FAIL above says what to do${report.runtimes.length > 1 ? '; name the runtimes you use (fracta doctor claude) to check only those' : ''}`,
  );
  return lines.join('\n');
}
