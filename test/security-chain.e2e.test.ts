/**
 * Security: a chain of agents a child cannot forge. Depth, root and parenthood come from fracta's own
 * records and the process tree; the FRACTA_* variables a child can set only name the claim. Real
 * chains: the fixture agent spawns children through the real fracta CLI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, ROOT, makeSandbox, onCleanup, runCleanups, runCli, startServer, structured, until, type Sandbox } from './helpers/harness.js';

afterEach(runCleanups);

const CHAIN_AGENT = path.join(ROOT, 'test/fixtures/chain-agent.mjs');

function chainConfig(sandbox: Sandbox, limits: string): string {
  return `agents:\n  default_runtime: chain\n  kill_grace_s: 1\n${limits}\n  agent_runtimes:\n    chain:\n      adapter: command\n      command: ${CHAIN_AGENT}\n      args: ["${CLI}", "${sandbox.configPath}"]\n      prompt_via: stdin\n`;
}

/** A server whose config is the chain runtime with these limits. */
async function chainServer(limits: string) {
  const probe = makeSandbox();
  const server = await startServer({ config: chainConfig(probe, limits) });
  // The config must name its own path, known only now.
  fs.writeFileSync(server.sandbox.configPath, chainConfig(server.sandbox, limits));
  return server;
}

interface AgentReport {
  depth: string;
  parent: string;
  children: Array<{ code: number; status: string | null; depth: number | null; output: string | null; error: { code: string; message: string } | null }>;
}

function report(output: string): AgentReport {
  return JSON.parse(output) as AgentReport;
}

describe('depth comes from the records, not the environment', () => {
  for (const forged of ['1', '0', '-100', 'abc']) {
    it(`an agent that sets FRACTA_DEPTH=${forged} for its spawn cannot get below max_depth`, async () => {
      const server = await chainServer('  max_depth: 2');
      // depth 1 spawns depth 2 with a forged depth; depth 2 tries depth 3 with the same forgery.
      const grandchild = { env: { FRACTA_DEPTH: forged }, task: {} };
      const task = JSON.stringify({ children: [{ env: { FRACTA_DEPTH: forged }, task: { children: [grandchild] } }] });
      const root = structured(await server.call('spawn', { task, wait_s: 50 }, { timeout: 60_000 }));
      expect(root.status).toBe('succeeded');
      const child = report(root.output).children[0]!;
      if (forged === '1') {
        // A well-formed claim is not believed: the child is at depth 2, its own spawn is refused at the limit.
        expect(child).toMatchObject({ status: 'succeeded', depth: 2 });
        expect(report(child.output!).children[0]!.error).toMatchObject({ code: 'depth_limit' });
        expect(report(child.output!).children[0]!.error!.message).toMatch(/depth 3 .* beyond agents\.max_depth: 2; raise max_depth in fracta\.yaml/);
      } else {
        expect(child.error).toMatchObject({ code: 'chain_invalid' });
        expect(child.error!.message).toMatch(/FRACTA_DEPTH: ".*" is not a positive whole number/);
      }
      const depths = (structured(await server.call('runs', {})).runs as Array<{ depth: number }>).map((run) => run.depth);
      expect(Math.max(...depths)).toBeLessThanOrEqual(2);
    });
  }
});

describe('parenthood is proven, not claimed', () => {
  it('a local process outside the run\'s tree that names a running run as its parent is refused, borrows no slot and takes no child place', async () => {
    const server = await chainServer('  max_concurrent: 1\n  max_children: 1');
    const holder = structured(await server.call('spawn', { task: JSON.stringify({ hold_ms: 20_000 }), wait_s: 0 }));
    await until(async () => structured(await server.call('status', { run_id: holder.run_id })).status === 'running' || undefined, 'the parent to run');
    // This test process is no descendant of the run's agent: it cannot claim to be its child.
    const forged = await runCli(['spawn', '--task', '{}', '--json', '--config', server.sandbox.configPath], {
      env: { ...server.sandbox.env, FRACTA_PARENT_RUN: holder.run_id, FRACTA_DEPTH: '1', FRACTA_ROOT_RUN: holder.run_id },
    });
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toMatch(/\[chain_invalid\] FRACTA_PARENT_RUN: this process is not part of run \S+'s process tree/);
    const parent = structured(await server.call('status', { run_id: holder.run_id }));
    expect(parent.children).toEqual([]);
    expect(fs.readdirSync(path.join(server.sandbox.home, 'runs'))).toEqual([holder.run_id]);
    await server.call('cancel', { run_id: holder.run_id });
  });

  it('a FRACTA_PARENT_RUN naming an unknown, malformed or ended run is refused', async () => {
    const server = await chainServer('');
    const ended = structured(await server.call('spawn', { task: '{}' }));
    expect(ended.status).toBe('succeeded');
    for (const [claim, message] of [
      ['20260101-000000-000abcde', /no run 20260101-000000-000abcde in this FRACTA_HOME/],
      ['../../etc', /"\.\.\/\.\.\/etc" is not a run id/],
      [ended.run_id, /is succeeded, and only a running run's agent spawns children/],
    ] as const) {
      const result = await runCli(['spawn', '--task', '{}', '--json', '--config', server.sandbox.configPath], { env: { ...server.sandbox.env, FRACTA_PARENT_RUN: claim } });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/\[chain_invalid\] FRACTA_PARENT_RUN: /);
      expect(result.stderr).toMatch(message);
    }
  });

  it('a real child is still a child: its record names its parent and root, and max_children holds', async () => {
    const server = await chainServer('  max_children: 2');
    const task = JSON.stringify({ children: [{ task: {} }, { task: {} }, { task: {} }] });
    const root = structured(await server.call('spawn', { task, wait_s: 50 }, { timeout: 60_000 }));
    const children = report(root.output).children;
    expect(children.map((child) => child.status ?? child.error?.code)).toEqual(['succeeded', 'succeeded', 'children_limit']);
    expect(children[2]!.error!.message).toMatch(/has already spawned 2 runs, the limit agents\.max_children: 2; raise max_children in fracta\.yaml/);
    const runs = structured(await server.call('runs', {})).runs as Array<Record<string, any>>;
    const kids = runs.filter((run) => run.depth === 2);
    expect(kids).toHaveLength(2);
    for (const kid of kids) expect(kid).toMatchObject({ parent_run: root.run_id, root_run: root.run_id });
  });
});
