import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, locateConfig, parseConfig, parseConfigText } from '../src/config/load.js';
import { FractaError } from '../src/errors.js';
import { ADAPTERS } from '../src/host/adapters.js';

/** A path whose display name (relative to the cwd) is plain `fracta.yaml`. */
const FILE = path.join(process.cwd(), 'fracta.yaml');

function configError(run: () => unknown): FractaError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FractaError);
    expect((error as FractaError).code).toBe('config_invalid');
    return error as FractaError;
  }
  throw new Error('expected a config_invalid error, but nothing was thrown');
}

/** The error lines of a YAML text that should not validate. */
function errorLines(yaml: string): string[] {
  return configError(() => parseConfigText(yaml, FILE, ADAPTERS)).message.split('\n');
}

function runtimeYaml(name: string, body: string): string {
  const indented = body
    .trim()
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n');
  return `agents:\n  agent_runtimes:\n    ${name}:\n${indented}\n`;
}

describe('config validation errors', () => {
  it('reports an unknown model tier as `file: path: unknown tier (use heavy, medium, light)`', () => {
    const lines = errorLines(
      runtimeYaml(
        'claude',
        `
adapter: command
command: claude
model_tiers:
  huge: opus-9
`,
      ),
    );
    expect(lines).toEqual(['fracta.yaml: agents.agent_runtimes.claude.model_tiers.huge: unknown tier (use heavy, medium, light)']);
  });

  it('backend: kubernetes needs a kubernetes: block with namespace and image, each named', () => {
    expect(errorLines(runtimeYaml('k', 'adapter: command\ncommand: c\nbackend: kubernetes\nkubernetes:\n  image: img:1'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.k.kubernetes.namespace: is required with backend: kubernetes (the namespace its Jobs run in)',
    ]);
    expect(errorLines(runtimeYaml('k', 'adapter: command\ncommand: c\nbackend: kubernetes'))).toHaveLength(2);
    expect(errorLines(runtimeYaml('k', 'adapter: command\ncommand: c\nbackend: cloud'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.k.backend: unknown backend (use local, kubernetes)',
    ]);
  });

  it('kubernetes names are checked at load: namespace, image, Secret names, a variable given twice', () => {
    const lines = errorLines(
      runtimeYaml(
        'k',
        'adapter: command\ncommand: c\nkubernetes:\n  namespace: Agents_Team\n  image: ""\n  env:\n    - { name: K, value: a }\n    - { name: K, secret_ref: { name: Bad_Name, key: k } }',
      ),
    );
    expect(lines).toEqual([
      'fracta.yaml: agents.agent_runtimes.k.kubernetes.namespace: must be a valid namespace (a DNS label: lowercase letters, digits and -, at most 63)',
      'fracta.yaml: agents.agent_runtimes.k.kubernetes.image: must name a container image',
      'fracta.yaml: agents.agent_runtimes.k.kubernetes.env[1].secret_ref.name: must be a valid Secret name (lowercase, digits, - and .)',
      'fracta.yaml: agents.agent_runtimes.k.kubernetes.env[1].name: "K" is given twice; give each variable once',
    ]);
    const twice = errorLines(runtimeYaml('k', 'adapter: command\ncommand: c\nkubernetes:\n  namespace: a\n  image: i\n  env:\n    - { name: K, value: a }\n    - { name: K, value: b }'));
    expect(twice).toEqual(['fracta.yaml: agents.agent_runtimes.k.kubernetes.env[1].name: "K" is given twice; give each variable once']);
  });

  it('a kubernetes env entry takes exactly one of value and secret_ref', () => {
    const lines = errorLines(
      runtimeYaml('k', 'adapter: command\ncommand: c\nkubernetes:\n  namespace: a\n  image: i\n  env:\n    - { name: K, value: v, secret_ref: { name: s, key: k } }'),
    );
    expect(lines).toEqual(['fracta.yaml: agents.agent_runtimes.k.kubernetes.env[0]: give exactly one of value or secret_ref']);
  });

  it('names an unknown adapter and lists the valid adapters', () => {
    expect(errorLines(runtimeYaml('x', 'adapter: nope\ncommand: c'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.adapter: unknown adapter "nope" (use command, claude, codex, opencode, gemini, acp)',
    ]);
  });

  it('says the adapter is required when a runtime has none', () => {
    expect(errorLines(runtimeYaml('x', 'command: c'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.adapter: is required (use command, claude, codex, opencode, gemini, acp)',
    ]);
  });

  it('names the command field when a command runtime has no command', () => {
    const lines = errorLines(runtimeYaml('x', 'adapter: command\nargs: ["-p"]'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fracta\.yaml: agents\.agent_runtimes\.x\.command: is required/);
  });

  it('lists the allowed keys for an unknown key in a runtime', () => {
    const lines = errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nbogus: 1'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fracta\.yaml: agents\.agent_runtimes\.x\.bogus: unknown key \(use /);
    // Both the keys every runtime has and the adapter's own keys are offered.
    for (const key of ['adapter', 'model', 'model_tiers', 'env', 'command', 'args', 'prompt_via', 'resume_args']) {
      expect(lines[0]).toContain(key);
    }
  });

  it('lists the allowed keys for an unknown key under agents', () => {
    expect(errorLines('agents:\n  bogus: 1\n')).toEqual([
      'fracta.yaml: agents.bogus: unknown key (use default_runtime, timeout_s, kill_grace_s, session_idle_timeout_s, idle_timeout_s, max_concurrent, max_runtime_concurrent, max_depth, max_children, secret_env, inherit_env, workspace, approvals, budget, mcp, agent_runtimes)',
    ]);
  });

  it('rejects an unknown placeholder in args and lists the known ones', () => {
    const lines = errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nargs: ["-p", "{nope}"]'));
    expect(lines).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.args: unknown placeholder {nope} (use {prompt}, {prompt_file}, {model}, {workdir}, {resume_token})',
    ]);
  });

  it('rejects an unknown placeholder in resume_args', () => {
    const lines = errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nresume_args: ["--resume", "{resume_token}", "{session}"]'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fracta\.yaml: agents\.agent_runtimes\.x\.resume_args: unknown placeholder \{session\}/);
  });

  it('requires {prompt} in args when prompt_via is arg', () => {
    expect(errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nprompt_via: arg\nargs: ["-p"]'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.args: prompt_via is arg, so args must contain {prompt}',
    ]);
  });

  it('refuses {prompt} in args when the prompt goes on stdin', () => {
    const lines = errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nargs: ["{prompt}"]'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/x\.args: \{prompt\} is in args but prompt_via is stdin/);
  });

  it('requires {prompt_file} in args when prompt_via is file', () => {
    const lines = errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nprompt_via: file'));
    expect(lines).toEqual(['fracta.yaml: agents.agent_runtimes.x.args: prompt_via is file, so args must contain {prompt_file}']);
  });

  it('refuses {resume_token} in args, pointing at resume_args', () => {
    expect(errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nargs: ["--resume", "{resume_token}"]'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.args: {resume_token} belongs in resume_args, which are added only when a run resumes',
    ]);
  });

  it('requires {resume_token} in resume_args', () => {
    expect(errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nresume_args: ["--continue"]'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.resume_args: must contain {resume_token}',
    ]);
  });

  it('requires output: json for session_path', () => {
    expect(errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nsession_path: session_id'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.session_path: needs output: json',
    ]);
  });

  it('lists the allowed values of prompt_via', () => {
    const lines = errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nprompt_via: pipe'));
    expect(lines).toEqual(['fracta.yaml: agents.agent_runtimes.x.prompt_via: unknown prompt_via (use stdin, arg, file)']);
  });

  it('refuses a runtime name that is not letters, digits, ".", "_" and "-"', () => {
    const lines = errorLines(runtimeYaml('"bad name"', 'adapter: command\ncommand: c'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fracta\.yaml: agents\.agent_runtimes\.bad name: invalid runtime name/);
  });

  it('names a default_runtime that is not defined and lists the runtimes there are', () => {
    const yaml = `${runtimeYaml('x', 'adapter: command\ncommand: c')}  default_runtime: ghost\n`;
    expect(errorLines(yaml)).toEqual(['fracta.yaml: agents.default_runtime: unknown runtime "ghost" (use claude, codex, gemini, opencode, gemini-acp, opencode-acp, x)']);
  });

  it('reports a non-positive timeout_s with its field', () => {
    expect(errorLines('agents:\n  timeout_s: 0\n')).toEqual(['fracta.yaml: agents.timeout_s: must be more than 0 seconds']);
  });

  it('says what type a present value of the wrong type must have, not that it is required', () => {
    expect(errorLines('agents:\n  timeout_s: soon\n')).toEqual(['fracta.yaml: agents.timeout_s: must be a number of seconds']);
    expect(errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nargs: "-p"'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.args: must be a list of strings',
    ]);
    expect(errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nmodel: 5'))).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.model: must be a string',
    ]);
  });

  it('reports every broken runtime, one line each', () => {
    const yaml = 'agents:\n  agent_runtimes:\n    a:\n      adapter: nope\n    b:\n      adapter: command\n';
    const lines = errorLines(yaml);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^fracta\.yaml: agents\.agent_runtimes\.a\.adapter: unknown adapter/);
    expect(lines[1]).toMatch(/^fracta\.yaml: agents\.agent_runtimes\.b\.command: is required/);
  });

  it('shows a file outside the working directory by its absolute path', () => {
    const outside = path.join(path.parse(process.cwd()).root, 'nowhere-fracta-test', 'fracta.yaml');
    const error = configError(() => parseConfigText('agents:\n  bogus: 1\n', outside, ADAPTERS));
    expect(error.message.startsWith(`${outside}: agents.bogus:`)).toBe(true);
  });

  it('requires exactly one of value or secret_ref in a kubernetes env entry', () => {
    const lines = errorLines(
      runtimeYaml(
        'x',
        `
adapter: command
command: c
kubernetes:
  env:
    - name: NEITHER
    - name: BOTH
      value: v
      secret_ref: { name: creds, key: token }
    - name: ONLY_VALUE
      value: v
    - name: ONLY_SECRET
      secret_ref: { name: creds, key: token }
`,
      ),
    );
    expect(lines).toEqual([
      'fracta.yaml: agents.agent_runtimes.x.kubernetes.env[0]: give exactly one of value or secret_ref',
      'fracta.yaml: agents.agent_runtimes.x.kubernetes.env[1]: give exactly one of value or secret_ref',
    ]);
  });

  it('accepts kubernetes env entries that have one of value or secret_ref', () => {
    const config = parseConfigText(
      runtimeYaml(
        'x',
        `
adapter: command
command: c
kubernetes:
  namespace: agents
  env:
    - name: A
      value: v
    - name: B
      secret_ref: { name: creds, key: token }
`,
      ),
      FILE, ADAPTERS,
    );
    expect(config.runtimes.get('x')?.kubernetes?.env).toEqual([
      { name: 'A', value: 'v' },
      { name: 'B', secret_ref: { name: 'creds', key: 'token' } },
    ]);
  });
});

describe('YAML syntax errors', () => {
  it('are config_invalid and carry file:line:col with the parser message', () => {
    const error = configError(() => parseConfigText('agents:\n  agent_runtimes: [\n', FILE, ADAPTERS));
    expect(error.message).toMatch(/^fracta\.yaml:3:1: Flow sequence in block collection/);
    // The position is given once, not repeated from the parser's own message.
    expect(error.message).not.toMatch(/at line \d+, column \d+/);
  });

  it('refuse a duplicate key, at its line:col', () => {
    const error = configError(() => parseConfigText('agents:\n  timeout_s: 10\n  timeout_s: 20\n', FILE, ADAPTERS));
    expect(error.message).toBe('fracta.yaml:3:3: Map keys must be unique');
  });
});

describe('parsing valid configs', () => {
  it('has the built-in claude runtime, as the default, when there is no file', () => {
    const config = parseConfig({}, null, ADAPTERS);
    expect(config.source).toBeNull();
    expect(config.defaultRuntime).toBe('claude');
    expect([...config.runtimes.keys()]).toEqual(['claude', 'codex', 'gemini', 'opencode', 'gemini-acp', 'opencode-acp']);
    const claude = config.runtimes.get('claude')!;
    expect(claude.adapter).toBe('claude');
    expect(claude.model).toBe('sonnet');
    expect(claude.modelTiers).toEqual({ heavy: 'opus', medium: 'sonnet', light: 'haiku' });
    expect(claude.options).toMatchObject({ command: 'claude', extra_args: [], mcp_servers: {} });
  });

  it('applies the documented defaults for an empty file', () => {
    const config = parseConfigText('', FILE, ADAPTERS);
    expect(config.source).toBe(FILE);
    expect(config.timeoutS).toBe(1800);
    expect(config.killGraceS).toBe(5);
    expect(config.cleanup).toBe('keep');
  });

  it('merges a user file over the built-ins: claude stays, new runtimes are added', () => {
    const config = parseConfigText(
      `${runtimeYaml('echo', 'adapter: command\ncommand: echo\nargs: ["{prompt}"]\nprompt_via: arg')}  default_runtime: echo\n`,
      FILE, ADAPTERS,
    );
    expect([...config.runtimes.keys()].sort()).toEqual(['claude', 'codex', 'echo', 'gemini', 'gemini-acp', 'opencode', 'opencode-acp']);
    expect(config.defaultRuntime).toBe('echo');
    expect(config.runtimes.get('claude')?.model).toBe('sonnet');
  });

  it('keeps claude as the default runtime when the file does not name one', () => {
    const config = parseConfigText(runtimeYaml('echo', 'adapter: command\ncommand: echo'), FILE, ADAPTERS);
    expect(config.defaultRuntime).toBe('claude');
  });

  it('replaces the built-in claude as a whole with a runtime of the same name', () => {
    const config = parseConfigText(runtimeYaml('claude', 'adapter: command\ncommand: /opt/claude'), FILE, ADAPTERS);
    const claude = config.runtimes.get('claude')!;
    expect(claude.options).toMatchObject({ command: '/opt/claude', output: 'text', args: [] });
    expect(claude.model).toBeUndefined();
    expect(claude.modelTiers).toEqual({});
  });

  it('turns numbers and booleans in env into strings', () => {
    const config = parseConfigText(runtimeYaml('x', 'adapter: command\ncommand: c\nenv: { N: 3, F: 1.5, B: true, S: "${HOME}" }'), FILE, ADAPTERS);
    expect(config.runtimes.get('x')?.env).toEqual({ N: '3', F: '1.5', B: 'true', S: '${HOME}' });
  });

  it('refuses an env value that is a list', () => {
    const lines = errorLines(runtimeYaml('x', 'adapter: command\ncommand: c\nenv: { L: [1, 2] }'));
    expect(lines).toEqual(['fracta.yaml: agents.agent_runtimes.x.env.L: must be a string, a number or true/false']);
  });

  it('keeps runtime settings: timeout, cleanup, model and tiers', () => {
    const config = parseConfigText(
      runtimeYaml('x', 'adapter: command\ncommand: c\ntimeout_s: 60\ncleanup: always\nmodel: m\nmodel_tiers: { light: small }'),
      FILE, ADAPTERS,
    );
    const x = config.runtimes.get('x')!;
    expect(x).toMatchObject({ name: 'x', timeoutS: 60, cleanup: 'always', model: 'm', modelTiers: { light: 'small' } });
  });
});

describe('locateConfig and loadConfig', () => {
  const temps: string[] = [];
  function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-config-test-'));
    temps.push(dir);
    return dir;
  }
  afterEach(() => {
    for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A working directory and a FRACTA_HOME, both with a fracta.yaml, plus a third file for FRACTA_CONFIG. */
  function setup() {
    const cwd = tempDir();
    const home = tempDir();
    const other = tempDir();
    for (const dir of [cwd, home, other]) fs.writeFileSync(path.join(dir, 'fracta.yaml'), 'agents: {}\n');
    return { cwd, home, other };
  }

  it('prefers the --config flag over everything else, resolved against cwd, and marks it explicit', () => {
    const { cwd, home, other } = setup();
    const env = { FRACTA_CONFIG: path.join(other, 'fracta.yaml'), FRACTA_HOME: home };
    expect(locateConfig('conf/mine.yaml', env, cwd)).toEqual({ path: path.join(cwd, 'conf', 'mine.yaml'), explicit: true });
  });

  it('uses FRACTA_CONFIG when there is no flag, resolved against cwd, and marks it explicit', () => {
    const { cwd, home, other } = setup();
    expect(locateConfig(undefined, { FRACTA_CONFIG: path.join(other, 'fracta.yaml'), FRACTA_HOME: home }, cwd)).toEqual({
      path: path.join(other, 'fracta.yaml'),
      explicit: true,
    });
    expect(locateConfig(undefined, { FRACTA_CONFIG: 'rel.yaml', FRACTA_HOME: home }, cwd)).toEqual({
      path: path.join(cwd, 'rel.yaml'),
      explicit: true,
    });
  });

  it('uses ./fracta.yaml before $FRACTA_HOME/fracta.yaml, not explicit', () => {
    const { cwd, home } = setup();
    expect(locateConfig(undefined, { FRACTA_HOME: home }, cwd)).toEqual({ path: path.join(cwd, 'fracta.yaml'), explicit: false });
  });

  it('falls back to $FRACTA_HOME/fracta.yaml when the working directory has none', () => {
    const { home } = setup();
    const emptyCwd = tempDir();
    expect(locateConfig(undefined, { FRACTA_HOME: home }, emptyCwd)).toEqual({ path: path.join(home, 'fracta.yaml'), explicit: false });
  });

  it('returns a null path (built-in defaults) when no file is found', () => {
    const cwd = tempDir();
    const home = tempDir();
    expect(locateConfig(undefined, { FRACTA_HOME: home }, cwd)).toEqual({ path: null, explicit: false });
  });

  it('loads the built-in defaults for a null path', () => {
    const config = loadConfig({ path: null, explicit: false }, ADAPTERS);
    expect(config.source).toBeNull();
    expect(config.runtimes.has('claude')).toBe(true);
  });

  it('refuses an explicit config file that does not exist, naming the path', () => {
    const missing = path.join(tempDir(), 'missing.yaml');
    const error = configError(() => loadConfig({ path: missing, explicit: true }, ADAPTERS));
    expect(error.message).toContain(missing);
    expect(error.message).toContain('no such file');
  });

  it('reads and validates the located file', () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'fracta.yaml'), runtimeYaml('echo', 'adapter: command\ncommand: echo'));
    const config = loadConfig(locateConfig(undefined, { FRACTA_HOME: tempDir() }, cwd), ADAPTERS);
    expect(config.source).toBe(path.join(cwd, 'fracta.yaml'));
    expect(config.runtimes.has('echo')).toBe(true);
  });
});
