/**
 * The official MCP conformance suite against `fracta mcp --http` (scripts/conformance.mjs): every
 * scenario passes but those the baseline lists with why, and none of those passes unnoticed.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/harness.js';

describe('npm run conformance', () => {
  it('passes every scenario outside conformance-baseline.yml, DNS rebinding protection included', async () => {
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(process.execPath, [path.join(ROOT, 'scripts/conformance.mjs')], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 240_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout + stderr }),
      );
    });
    expect(output).toContain('Baseline check passed');
    expect(code).toBe(0);
    for (const scenario of ['server-initialize', 'ping', 'tools-list', 'tools-call-error', 'resources-list', 'server-sse-multiple-streams', 'dns-rebinding-protection']) {
      expect(output).toMatch(new RegExp(`✓ ${scenario}: \\d+ passed, 0 failed`));
    }
  }, 300_000);
});
