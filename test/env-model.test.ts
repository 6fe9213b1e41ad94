import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveChildEnv } from '../src/config/env.js';
import { maskSecrets } from '../src/secrets.js';
import { parseConfig } from '../src/config/load.js';
import { resolveModel } from '../src/config/model.js';
import type { RuntimeConfig } from '../src/config/runtime.js';
import { FractaError } from '../src/errors.js';
import { NO_CAPABILITIES, type Capabilities, type Host, type Tier } from '../src/host/host.js';
import { RuntimeRegistry, type ResolvedRuntime } from '../src/host/registry.js';
import { parseRequest, spawnRequestSchema, type SpawnRequest } from '../src/requests.js';
import { checkCapabilities } from '../src/spawn/plan.js';
import { thrown } from './helpers/thrown.js';
import { ADAPTERS } from '../src/host/adapters.js';

function runtime(overrides: Partial<RuntimeConfig> = {}): RuntimeConfig {
  return {
    name: 'x',
    adapter: 'command',
    description: undefined,
    model: undefined,
    modelTiers: {},
    env: {},
    timeoutS: undefined,
    cleanup: undefined,
    idleTimeoutS: undefined,
    maxConcurrent: undefined,
    inheritEnv: undefined,
    backend: undefined,
    kubernetes: undefined,
    options: {},
    ...overrides,
  };
}


describe('resolveChildEnv', () => {
  it("starts from fracta's environment and puts the runtime's env on top", () => {
    const { env } = resolveChildEnv(runtime({ env: { MODE: 'batch', PATH: '/opt/agent/bin' } }), {
      PATH: '/usr/bin',
      HOME: '/home/me',
      UNSET: undefined,
    });
    expect(env).toEqual({ PATH: '/opt/agent/bin', HOME: '/home/me', MODE: 'batch' });
    expect('UNSET' in env).toBe(false);
  });

  it("interpolates ${VAR} from fracta's environment, several in one value", () => {
    const { env } = resolveChildEnv(runtime({ env: { API_KEY: '${MY_KEY}', URL: 'https://${HOST}:${PORT}/v1' } }), {
      MY_KEY: 'sk-live-123456',
      HOST: 'api.example.com',
      PORT: '8443',
    });
    expect(env.API_KEY).toBe('sk-live-123456');
    expect(env.URL).toBe('https://api.example.com:8443/v1');
  });

  it('leaves $VAR without braces and literal values alone', () => {
    const { env, secrets } = resolveChildEnv(runtime({ env: { A: '$MY_KEY', B: 'plain', C: '${not a ref}' } }), { MY_KEY: 'value-1' });
    expect(env).toMatchObject({ A: '$MY_KEY', B: 'plain', C: '${not a ref}' });
    expect(secrets).toEqual([]);
  });

  it('lists every injected value as a secret, but not empty ones or literal values', () => {
    const { secrets } = resolveChildEnv(runtime({ env: { API_KEY: '${MY_KEY}', URL: 'https://${HOST}/v1', E: '${EMPTY}', L: 'literal' } }), {
      MY_KEY: 'sk-live-123456',
      HOST: 'api.example.com',
      EMPTY: '',
    });
    expect(secrets).toEqual(['api.example.com', 'sk-live-123456']);
  });

  it('lists a secret with its JSON-escaped forms, and names one too short to mask', () => {
    const { secrets, unmasked } = resolveChildEnv(runtime({ env: { API_KEY: '${MY_KEY}', PIN_TOKEN: '${PIN}' } }), { MY_KEY: 'ab"c\\d/é', PIN: '42' });
    expect(secrets).toEqual(expect.arrayContaining(['ab"c\\d/é', 'ab\\"c\\\\d/é', 'ab\\"c\\\\d\\/é', 'ab\\"c\\\\d/\\u00e9']));
    expect(secrets).not.toContain('42');
    expect(unmasked).toEqual(['env.PIN_TOKEN']);
  });

  it('does not change the environment it reads', () => {
    const source = { MY_KEY: 'sk-live-123456' };
    resolveChildEnv(runtime({ env: { API_KEY: '${MY_KEY}' } }), source);
    expect(source).toEqual({ MY_KEY: 'sk-live-123456' });
  });

  it('throws env_missing naming the variable, the env key and the runtime, without any env value', () => {
    const source = {
      PRESENT_TOKEN: 'present-secret-value-1',
      OTHER_SECRET: 'other-secret-value-2',
      PATH: '/usr/local/bin:/usr/bin',
    };
    const error = thrown(() =>
      resolveChildEnv(runtime({ name: 'my-agent', env: { AUTH: 'Bearer ${PRESENT_TOKEN} ${MISSING_TOKEN}' } }), source),
    );
    expect(error.code).toBe('env_missing');
    expect(error.field).toBe('env.AUTH');
    expect(error.message).toContain('MISSING_TOKEN');
    expect(error.message).toContain('runtime "my-agent"');
    expect(error.message).toContain('env.AUTH');
    for (const value of Object.values(source)) expect(error.message).not.toContain(value);
  });
});

describe('maskSecrets', () => {
  it('replaces every occurrence of each secret by ***', () => {
    expect(maskSecrets('key=sk-123456 again sk-123456', ['sk-123456'])).toBe('key=*** again ***');
  });

  it('masks the longest secret first, so a secret inside another is fully hidden', () => {
    // Given shortest first: masking in that order would leave "***efgh" behind.
    expect(maskSecrets('long abcdefgh short abcd', ['abcd', 'abcdefgh'])).toBe('long *** short ***');
  });

  it('ignores secrets shorter than 4 characters, and masks those of exactly 4', () => {
    expect(maskSecrets('a abc b abcd', ['abc'])).toBe('a abc b abcd');
    expect(maskSecrets('a abc b abcd', ['abcd'])).toBe('a abc b ***');
    expect(maskSecrets('text', [''])).toBe('text');
  });

  it('does not reorder the list it is given', () => {
    const secrets = ['abcd', 'abcdefgh'];
    maskSecrets('x', secrets);
    expect(secrets).toEqual(['abcd', 'abcdefgh']);
  });
});

describe('resolveModel', () => {
  const tiered = runtime({ model: 'default-m', modelTiers: { heavy: 'big-m', light: 'small-m' } });

  it('takes an explicit model over the tier and the runtime model', () => {
    expect(resolveModel(tiered, 'chosen-m', 'heavy')).toEqual({ model: 'chosen-m' });
    expect(resolveModel(tiered, 'chosen-m', undefined)).toEqual({ model: 'chosen-m' });
  });

  it("takes the runtime's model for the tier over its default model", () => {
    expect(resolveModel(tiered, undefined, 'heavy')).toEqual({ model: 'big-m' });
    expect(resolveModel(tiered, undefined, 'light')).toEqual({ model: 'small-m' });
  });

  it("falls back to the runtime's model without a tier", () => {
    expect(resolveModel(tiered, undefined, undefined)).toEqual({ model: 'default-m' });
  });

  it("warns, and uses the runtime's model, when the tier has no model", () => {
    const choice = resolveModel(tiered, undefined, 'medium');
    expect(choice.model).toBe('default-m');
    expect(choice.warning).toBe(
      'runtime "x" has no model for tier "medium" (model_tiers.medium in fracta.yaml); used its default model default-m',
    );
  });

  it("warns that the CLI's default is used when neither the tier nor the runtime has a model", () => {
    const choice = resolveModel(runtime(), undefined, 'heavy');
    expect(choice.model).toBeUndefined();
    expect(choice.warning).toContain("the CLI's default model");
  });

  it('gives no warning when a tier is not asked for', () => {
    expect(resolveModel(runtime(), undefined, undefined)).toEqual({ model: undefined });
  });

  it('picks the built-in claude tiers', () => {
    const claude = parseConfig({}, null, ADAPTERS).runtimes.get('claude')!;
    expect(resolveModel(claude, undefined, 'heavy').model).toBe('opus');
    expect(resolveModel(claude, undefined, 'light').model).toBe('haiku');
    expect(resolveModel(claude, undefined, undefined).model).toBe('sonnet');
  });
});

describe('parseRequest(spawnRequestSchema)', () => {
  const parse = (raw: unknown) => parseRequest(spawnRequestSchema, raw, 'spawn');

  it('accepts a valid request as it is', () => {
    const raw = { task: 'fix it', runtime: 'claude', tier: 'light', timeout_s: 30, wait_s: 50, cleanup: 'always', allowed_tools: ['Read'] };
    expect(parse(raw)).toEqual(raw);
  });

  it('refuses an empty or blank task with invalid_input naming spawn.task', () => {
    for (const task of ['', '   \n']) {
      const error = thrown(() => parse({ task }));
      expect(error.code).toBe('invalid_input');
      expect(error.field).toBe('task');
      expect(error.message).toBe('spawn.task: must not be empty: say what the agent should do');
    }
  });

  it('says a missing task is required', () => {
    expect(thrown(() => parse({})).message).toBe('spawn.task: is required');
    expect(thrown(() => parse(undefined)).message).toBe('spawn.task: is required');
  });

  it('refuses a negative or zero timeout_s, naming spawn.timeout_s', () => {
    const negative = thrown(() => parse({ task: 't', timeout_s: -5 }));
    expect(negative.code).toBe('invalid_input');
    expect(negative.field).toBe('timeout_s');
    expect(negative.message).toBe('spawn.timeout_s: must be more than 0 seconds');
    expect(thrown(() => parse({ task: 't', timeout_s: 0 })).message).toBe('spawn.timeout_s: must be more than 0 seconds');
  });

  it('refuses an unknown tier with unknown_tier, listing the tiers', () => {
    const error = thrown(() => parse({ task: 't', tier: 'huge' }));
    expect(error.code).toBe('unknown_tier');
    expect(error.field).toBe('tier');
    expect(error.message).toBe('spawn.tier: unknown tier (use heavy, medium, light)');
  });

  it('refuses wait_s over an hour and accepts an hour (the client\'s wait ceiling then holds it)', () => {
    const error = thrown(() => parse({ task: 't', wait_s: 3601 }));
    expect(error.code).toBe('invalid_input');
    expect(error.field).toBe('wait_s');
    expect(error.message).toBe('spawn.wait_s: must be from 0 to 3600 seconds; call wait for longer');
    expect(parse({ task: 't', wait_s: 3600 }).wait_s).toBe(3600);
  });

  it('refuses an unknown field, listing the allowed ones', () => {
    const error = thrown(() => parse({ task: 't', prompt: 'p' }));
    expect(error.code).toBe('invalid_input');
    expect(error.message).toBe(
      'spawn.prompt: unknown field (use task, runtime, model, tier, contract, allowed_tools, resume_token, resume_run, stream, agent_mcp, timeout_s, wait_s, cleanup, repo, base_branch, branch, workspace, backend, budget)',
    );
  });

  it('reports every bad field in one message', () => {
    const error = thrown(() => parse({ task: 't', wait_s: 9999, cleanup: 'never' }));
    expect(error.message).toContain('spawn.wait_s:');
    expect(error.message).toContain('spawn.cleanup: unknown cleanup policy (use keep, on_success, always)');
  });
});

describe('checkCapabilities', () => {
  const FILE = path.join(process.cwd(), 'fracta.yaml');
  const registry = RuntimeRegistry.fromConfig(
    parseConfig(
      {
        agents: {
          agent_runtimes: {
            plain: { adapter: 'command', command: 'agent' },
            resumable: { adapter: 'command', command: 'agent', resume_args: ['--resume', '{resume_token}'] },
          },
        },
      },
      FILE, ADAPTERS,
    ),
  );
  const request = (extra: Record<string, unknown>): SpawnRequest => parseRequest(spawnRequestSchema, { task: 't', ...extra }, 'spawn');

  /** A runtime whose host has the given capabilities (the host itself is not used here). */
  function resolvedWith(capabilities: Capabilities, tier: Tier): ResolvedRuntime {
    return { runtime: runtime({ name: 'fake', adapter: 'fakehost' }), host: {} as Host, capabilities, tier };
  }

  it('refuses resume_token on a host without resumeToken, naming runtime, tier and capability', () => {
    const error = thrown(() => checkCapabilities(request({ resume_token: 'sess-1' }), registry.resolve('plain')));
    expect(error.code).toBe('capability_missing');
    expect(error.field).toBe('resume_token');
    expect(error.message).toMatch(/^runtime "plain" \(host command, Batch tier\) cannot resume a session: its host lacks the resumeToken capability\./);
    expect(error.message).toContain('Spawn without resume_token');
  });

  it('allows resume_token on a host with resume_args', () => {
    expect(checkCapabilities(request({ resume_token: 'sess-1' }), registry.resolve('resumable'))).toEqual([]);
  });

  it('refuses stream: true on a Batch host', () => {
    const error = thrown(() => checkCapabilities(request({ stream: true }), registry.resolve('resumable')));
    expect(error.code).toBe('capability_missing');
    expect(error.field).toBe('stream');
    expect(error.message).toContain('runtime "resumable" (host command, Batch tier) cannot keep a live stream session');
    expect(error.message).toContain('stream capability');
  });

  it('does not need the stream capability for stream: false', () => {
    expect(checkCapabilities(request({ stream: false, agent_mcp: false }), registry.resolve('plain'))).toEqual([]);
  });

  it('refuses agent_mcp on an Interactive host without agentMcp, naming its tier', () => {
    const interactive = resolvedWith({ ...NO_CAPABILITIES, stream: true, resumeToken: true }, 'Interactive');
    const error = thrown(() => checkCapabilities(request({ agent_mcp: true }), interactive));
    expect(error.code).toBe('capability_missing');
    expect(error.field).toBe('agent_mcp');
    expect(error.message).toContain('runtime "fake" (host fakehost, Interactive tier) cannot give the agent fracta over MCP');
    expect(error.message).toContain('agentMcp capability');
  });

  it('allows everything on a Full-Agent host with tool permissions, without warnings', () => {
    const full = resolvedWith({ stream: true, resumeToken: true, agentMcp: true, toolPermissions: true }, 'Full-Agent');
    expect(checkCapabilities(request({ resume_token: 's', stream: true, agent_mcp: true, allowed_tools: ['Read'] }), full)).toEqual([]);
  });

  it('warns, and does not refuse, when allowed_tools go to a host without tool permissions', () => {
    const warnings = checkCapabilities(request({ allowed_tools: ['Read', 'Edit'] }), registry.resolve('plain'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('runtime "plain" (host command) has no tool permissions');
    expect(warnings[0]).toContain('allowed_tools was not applied');
  });
});

describe('StreamMasker', () => {
  const push = (masker: { push(chunk: Buffer): Buffer }, text: string | Buffer) => masker.push(Buffer.isBuffer(text) ? text : Buffer.from(text)).toString();

  it('masks a secret cut across pieces, and holds back only what could start one', async () => {
    const { StreamMasker } = await import('../src/secrets.js');
    const masker = new StreamMasker(['sk-secret-123']);
    expect(push(masker, 'key=sk-sec')).toBe('key=');
    expect(push(masker, 'ret-123 done\n')).toBe('*** done\n');
    expect(push(masker, '{"type":"result"}\n')).toBe('{"type":"result"}\n');
    expect(push(masker, 'trailing s')).toBe('trailing ');
    expect(masker.end().toString()).toBe('s');
  });

  it('masks a multi-byte secret split inside a character, every occurrence, the longest secret first', async () => {
    const { StreamMasker } = await import('../src/secrets.js');
    const masker = new StreamMasker(['pässwörd-9', 'pässwörd-9-long']);
    const bytes = Buffer.from('a pässwörd-9-long b pässwörd-9 c pässwörd-9\n');
    const cut = bytes.indexOf(Buffer.from('ö')) + 1;
    const out = push(masker, bytes.subarray(0, cut)) + push(masker, bytes.subarray(cut)) + masker.end().toString();
    expect(out).toBe('a *** b *** c ***\n');
  });

  it('passes a piece that holds no secret on without copying it', async () => {
    const { StreamMasker } = await import('../src/secrets.js');
    const masker = new StreamMasker(['sk-secret-123']);
    const piece = Buffer.from('nothing to hide here\n');
    expect(masker.push(piece).buffer).toBe(piece.buffer);
  });

  it('masks a secret as a JSON encoder wrote it, cut at every byte', async () => {
    const { StreamMasker, withEncodedForms } = await import('../src/secrets.js');
    const secret = 'tok"en\\/é<x>';
    const line = Buffer.from(`${JSON.stringify({ text: `a ${secret} b` })}\n${JSON.stringify({ text: secret }).replaceAll('/', '\\/')}\n`);
    for (let cut = 1; cut < line.length; cut++) {
      const masker = new StreamMasker(withEncodedForms([secret]));
      const out = push(masker, line.subarray(0, cut)) + push(masker, line.subarray(cut)) + masker.end().toString();
      expect(out).toBe('{"text":"a *** b"}\n{"text":"***"}\n');
    }
  });
});

describe('maskDeep', () => {
  it('masks every string of a value, keys too, and keeps its shape', async () => {
    const { maskDeep } = await import('../src/secrets.js');
    const value = { type: 'tool_call', input: { command: 'echo sk-secret-123', n: 3, list: ['sk-secret-123', true, null] }, 'sk-secret-123': 1 };
    expect(maskDeep(value, ['sk-secret-123'])).toEqual({ type: 'tool_call', input: { command: 'echo ***', n: 3, list: ['***', true, null] }, '***': 1 });
  });
});
