/**
 * A child's permission requests and questions reach whoever can answer: MCP client → fracta mcp →
 * the real claude (agent_mcp: fracta's own server, its approval_prompt as --permission-prompt-tool,
 * and ask_parent) → a scripted Anthropic API on 127.0.0.1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema, type ElicitRequest } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, claudeRuntime, onCleanup, runCleanups, runCli, startServer, structured, untilDecisionNeeded, untilEnded, type RecordContent, type Server } from './helpers/harness.js';
import { startModelServer, type ModelServer } from './model-server/anthropic.js';

afterEach(runCleanups);

interface Setup {
  readonly server: Server;
  readonly model: ModelServer;
  readonly dir: string;
}

/** A node script standing in for an agent: it forges a request on its own run, then tries to answer it. */
const SELF_ANSWER = `
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const run = process.env.FRACTA_PARENT_RUN;
const dir = path.join(process.env.FRACTA_HOME, 'runs', run, 'requests');
fs.mkdirSync(dir, { recursive: true });
const now = new Date().toISOString();
fs.writeFileSync(path.join(dir, 'rforged1.ask.json'), JSON.stringify({ request_id: 'rforged1', kind: 'permission', tool: 'Bash', input: 'rm -rf /', question: null, chain: [run], asked_at: now, expires_at: now }));
try {
  execFileSync(process.execPath, [process.argv[2], 'answer', run, 'rforged1', 'allow'], { stdio: ['ignore', 'pipe', 'pipe'] });
  console.log('SELF-ANSWER ACCEPTED');
} catch (error) {
  console.log('SELF-ANSWER REFUSED: ' + String(error.stderr));
}
`;

async function start(extra = '', client?: Client): Promise<Setup> {
  const model = await startModelServer();
  onCleanup(() => model.close());
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fracta-approvals-'));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['claude-home', 'claude-tmp']) fs.mkdirSync(path.join(dir, sub));
  fs.writeFileSync(path.join(dir, 'self-answer.cjs'), SELF_ANSWER);
  const config = `
agents:
  default_runtime: claude
  kill_grace_s: 1
  approvals:
    rules:
      - { tool: "Bash(touch ruled-in*)", decision: allow }
      - { tool: "Bash(touch ruled-out*)", decision: deny }
${extra}
  agent_runtimes:
${claudeRuntime('claude', model.url, dir)}
${claudeRuntime('claude-quick', model.url, dir, '      approvals:\n        timeout_s: 2\n')}
    self-answer:
      adapter: command
      command: ${process.execPath}
      args: ["${path.join(dir, 'self-answer.cjs')}", "${CLI}"]
`;
  const server = await startServer({ config, ...(client ? { client } : {}) });
  return { server, model, dir };
}

function toolResults(model: ModelServer): Array<{ content: string; is_error: boolean }> {
  return model.messages().flatMap((message) => message.toolResults);
}

describe('approvals: a child asks, its parent decides', () => {
  it('a tool the permissions deny waits in wait as needs_input; answer allow runs it and the run succeeds', async () => {
    const { server, model } = await start();
    const started = structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch approved.txt"}]', agent_mcp: true, wait_s: 0 }));
    // The parent's wait gets a progress line for the request, then returns at once.
    const progress: string[] = [];
    await server.call('wait', { run_id: started.run_id, timeout_s: 40 }, { timeout: 50_000, onprogress: (note) => void progress.push(note.message ?? '') });
    const asking = await untilDecisionNeeded(server, started.run_id);
    expect(progress.some((line) => /needs a decision \(r\w+, chain .*\): wants to use Bash: .*touch approved\.txt/.test(line))).toBe(true);
    expect(asking).toMatchObject({ status: 'running', needs_input: true });
    expect(asking.pending_requests).toHaveLength(1);
    const request = asking.pending_requests[0];
    expect(request).toMatchObject({ kind: 'permission', tool: 'Bash', chain: [started.run_id] });
    expect(request.input).toContain('touch approved.txt');
    expect(fs.existsSync(path.join(asking.workspace, 'approved.txt'))).toBe(false);

    const answered = structured(await server.call('answer', { run_id: started.run_id, request_id: request.request_id, decision: 'allow' }));
    expect(answered.run_id).toBe(started.run_id);
    const ended = await untilEnded(server, started.run_id);
    expect(ended).toMatchObject({ status: 'succeeded', needs_input: false, pending_requests: [] });
    expect(fs.existsSync(path.join(ended.workspace, 'approved.txt')), JSON.stringify({ output: ended.output, warnings: ended.warnings, results: toolResults(model) })).toBe(true);
    expect(ended.requests).toEqual([expect.objectContaining({ request_id: request.request_id, decision: 'allow', decided_by: 'user', scope: 'once' })]);
  });

  it('in a live session too: the turn waits for the decision, and the allowed tool runs before the turn ends', async () => {
    const { server } = await start();
    const started = structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch live.txt"}]', agent_mcp: true, stream: true, wait_s: 0 }));
    const asking = await untilDecisionNeeded(server, started.run_id);
    expect(asking).toMatchObject({ stream: true, needs_input: true, awaiting_input: false });
    await server.call('answer', { run_id: started.run_id, request_id: asking.pending_requests[0].request_id, decision: 'allow' });
    let record = asking;
    for (const until = Date.now() + 60_000; !record.awaiting_input && record.status === 'running' && Date.now() < until; ) {
      record = structured(await server.call('wait', { run_id: started.run_id, timeout_s: 30 }, { timeout: 40_000 }));
    }
    expect(record).toMatchObject({ status: 'running', awaiting_input: true, needs_input: false, turns_done: 1 });
    expect(fs.existsSync(path.join(record.workspace, 'live.txt'))).toBe(true);
    const closed = structured(await server.call('close', { run_id: started.run_id }));
    expect(closed).toMatchObject({ status: 'succeeded', requests: [expect.objectContaining({ decision: 'allow', decided_by: 'user' })] });
    const events = fs.readFileSync(closed.events_path, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(['request', 'decision']));
  });

  it('fracta answer deny from a shell (a client without elicitation: the parent path): the tool never runs, and the agent is told why', async () => {
    const { server, model } = await start();
    const started = structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch refused.txt"}]', agent_mcp: true, wait_s: 0 }));
    const asking = await untilDecisionNeeded(server, started.run_id);
    const request = asking.pending_requests[0];
    const shell = { env: { ...server.sandbox.env }, cwd: server.sandbox.dir };
    const answered = await runCli(['answer', started.run_id, request.request_id, 'deny', '--message', 'not in this repository', '--config', server.sandbox.configPath], shell);
    expect(answered).toMatchObject({ code: 0 });
    expect(answered.stdout).toContain(`request ${request.request_id} decided (deny)`);
    const ended = await untilEnded(server, started.run_id);
    expect(fs.existsSync(path.join(ended.workspace, 'refused.txt'))).toBe(false);
    expect(ended.requests[0]).toMatchObject({ decision: 'deny', message: 'not in this repository', decided_by: 'user' });
    expect(toolResults(model).some((result) => result.content.includes('not in this repository'))).toBe(true);
  });

  it('nobody answers within timeout_s: denied, and recorded as decided by the timeout', async () => {
    const { server } = await start();
    const started = structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch late.txt"}]', runtime: 'claude-quick', agent_mcp: true, wait_s: 0 }));
    const ended = await untilEnded(server, started.run_id, { letItAsk: true });
    expect(fs.existsSync(path.join(ended.workspace, 'late.txt'))).toBe(false);
    expect(ended.requests).toEqual([expect.objectContaining({ kind: 'permission', tool: 'Bash', decision: 'deny', decided_by: 'timeout' })]);
  });

  it('policy rules allow and deny without asking anyone', async () => {
    const { server } = await start();
    const allowed = await untilEnded(server, structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch ruled-in.txt"}]', agent_mcp: true, wait_s: 0 })).run_id);
    expect(fs.existsSync(path.join(allowed.workspace, 'ruled-in.txt'))).toBe(true);
    expect(allowed.requests).toEqual([expect.objectContaining({ decision: 'allow', decided_by: 'policy rule Bash(touch ruled-in*)' })]);

    const denied = await untilEnded(server, structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch ruled-out.txt"}]', agent_mcp: true, wait_s: 0 })).run_id);
    expect(fs.existsSync(path.join(denied.workspace, 'ruled-out.txt'))).toBe(false);
    expect(denied.requests).toEqual([expect.objectContaining({ decision: 'deny', decided_by: 'policy rule Bash(touch ruled-out*)' })]);
  });

  it("ask_parent: the question waits in wait, and the parent's answer is what the child's model receives", async () => {
    const { server, model } = await start();
    const call = JSON.stringify({ question: 'Which colour should the button be? (the key is sk-ant-fake)' });
    const started = structured(await server.call('spawn', { task: `[tool:mcp__fracta__ask_parent ${call}]`, agent_mcp: true, wait_s: 0 }));
    const asking = await untilDecisionNeeded(server, started.run_id);
    const request = asking.pending_requests[0];
    // The child's words are data, and a secret in them is masked before anything is written.
    expect(request).toMatchObject({ kind: 'question', question: 'Which colour should the button be? (the key is ***)', tool: null });
    expect(fs.readdirSync(path.join(server.sandbox.home, 'runs', started.run_id, 'requests')).map((name) => fs.readFileSync(path.join(server.sandbox.home, 'runs', started.run_id, 'requests', name), 'utf8')).join('')).not.toContain('sk-ant-fake');
    await server.call('answer', { run_id: started.run_id, request_id: request.request_id, decision: 'allow', message: 'teal, like the logo' });
    const ended = await untilEnded(server, started.run_id);
    expect(ended.status).toBe('succeeded');
    expect(toolResults(model).some((result) => result.content.includes('teal, like the logo') && !result.is_error)).toBe(true);
  });

  it("a grandchild's request reaches the root client through two levels of agent_mcp, with the whole chain", async () => {
    const { server, model } = await start();
    // The middle agent does not decide: told its child waits for a decision, it waits again, and the request travels up.
    // (Claude Code gives its model a tool's structured content, as JSON.)
    model.setReply((req) => {
      let record: RecordContent | undefined;
      try {
        record = JSON.parse(req.toolResults[0]?.content ?? '');
      } catch {
        return undefined;
      }
      return record?.needs_input === true ? { type: 'tool_use', name: 'mcp__fracta__wait', input: { run_id: record.run_id, timeout_s: 50 } } : undefined;
    });
    const call = JSON.stringify({ task: '[tool:Bash {"command":"touch deep.txt"}]', runtime: 'claude', agent_mcp: true, wait_s: 50 });
    const parent = structured(await server.call('spawn', { task: `[tool:mcp__fracta__spawn ${call}]`, agent_mcp: true, wait_s: 0 }));
    const asking = await untilDecisionNeeded(server, parent.run_id);
    const request = asking.pending_requests[0];
    expect(request).toMatchObject({ kind: 'permission', tool: 'Bash' });
    expect(request.chain).toHaveLength(2);
    expect(request.chain[0]).toBe(parent.run_id);
    const grandchild = request.chain[1];

    await server.call('answer', { run_id: parent.run_id, request_id: request.request_id, decision: 'allow' });
    const ended = await untilEnded(server, parent.run_id);
    expect(ended.status).toBe('succeeded');
    const child = structured(await server.call('status', { run_id: grandchild }));
    expect(child).toMatchObject({ status: 'succeeded', parent_run: parent.run_id, depth: 2 });
    expect(child.requests).toEqual([expect.objectContaining({ request_id: request.request_id, decision: 'allow', decided_by: 'user' })]);
    expect(fs.existsSync(path.join(child.workspace, 'deep.txt'))).toBe(true);
  });

  it('the person at a client that can be asked (elicitation) gets the request with its chain, and their answer decides it', async () => {
    const asked: ElicitRequest['params'][] = [];
    const client = new Client({ name: 'fracta-test-person', version: '0.0.0' }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params);
      return { action: 'accept', content: { decision: 'allow_for_run', message: 'go ahead' } };
    });
    const { server } = await start('', client);
    const started = structured(await server.call('spawn', { task: '[tool:Bash {"command":"touch by-person.txt"}]', agent_mcp: true, wait_s: 0 }));
    const ended = await untilEnded(server, started.run_id, { letItAsk: true });
    expect(ended.status).toBe('succeeded');
    expect(fs.existsSync(path.join(ended.workspace, 'by-person.txt'))).toBe(true);
    expect(ended.requests).toEqual([expect.objectContaining({ decision: 'allow', scope: 'run', decided_by: 'human', message: 'go ahead' })]);
    expect(asked).toHaveLength(1);
    const message = (asked[0] as { message: string }).message;
    expect(message).toContain(`Chain: ${started.run_id}`);
    expect(message).toContain('runtime claude');
    expect(message).toContain('tool Bash');
    expect(message).toMatch(/```\n\{"command":"touch by-person.txt"\}\n```/);
  });

  it('a child cannot answer for itself: its own request stays pending', async () => {
    const { server } = await start();
    const ended = await untilEnded(server, structured(await server.call('spawn', { task: 'go', runtime: 'self-answer', wait_s: 20 })).run_id);
    expect(ended.output).toMatch(/SELF-ANSWER REFUSED: .*chain_invalid/s);
    expect(fs.existsSync(path.join(server.sandbox.home, 'runs', ended.run_id, 'requests', 'rforged1.answer.json'))).toBe(false);
  });
});
