/**
 * A full disk is an error with its own code (disk_full), never a success with a cut-short log, never a
 * hang to the timeout, and no terminal state is claimed that is not on disk. FRACTA_HOME lives on a
 * small tmpfs the test mounts (root only: elsewhere these tests say why they do not run).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ECHO_AGENT, onCleanup, runCleanups, startServer, structured, text, until } from './helpers/harness.js';

afterEach(runCleanups);

function tryMount(): string | undefined {
  const dir = fs.mkdtempSync('/tmp/fracta-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    fs.rmdirSync(dir);
    return undefined;
  }
}

const probe = tryMount();
if (probe) execFileSync('umount', [probe]);
if (probe) fs.rmdirSync(probe);
const canMount = probe !== undefined;
if (!canMount) console.warn('security-disk: these tests need to mount a tmpfs (run as root); they do not run here');

/** A 4 MiB tmpfs for FRACTA_HOME, unmounted after the test (after its server is gone). */
function smallDisk(): string {
  const dir = tryMount()!;
  onCleanup(() => {
    execFileSync('umount', ['-l', dir]);
    fs.rmdirSync(dir);
  });
  return dir;
}

const CONFIG = `
agents:
  default_runtime: plain
  kill_grace_s: 1
  timeout_s: 60
  agent_runtimes:
    plain:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
    masked:
      adapter: command
      command: ${ECHO_AGENT}
      args: ["--stdin"]
      env:
        SOME_TOKEN: "\${FRACTA_TEST_SECRET}"
`;

async function serverOnSmallDisk() {
  const disk = smallDisk();
  const home = path.join(disk, 'home');
  const server = await startServer({ config: CONFIG, env: { FRACTA_HOME: home, FRACTA_TEST_SECRET: 'a-secret-to-mask' } });
  onCleanup(() => server.client.close().catch(() => undefined)); // before the unmount
  return { server, home };
}

describe.skipIf(!canMount)('a full disk', () => {
  it('output piped through fracta (secrets to mask): failed with disk_full, at once, and the record lands once there is room', async () => {
    const { server, home } = await serverOnSmallDisk();
    const started = Date.now();
    const record = structured(await server.call('spawn', { task: '@bytes=20000000', runtime: 'masked', wait_s: 50 }));
    expect(Date.now() - started).toBeLessThan(30_000); // not its 60 s timeout
    expect(record).toMatchObject({ status: 'failed', error: { code: 'disk_full' } });
    expect(record.error.message).toMatch(/is full \(ENOSPC\)/);
    // Free the space: the terminal record is written, and the run is no longer active.
    fs.rmSync(path.join(home, 'runs', record.run_id, 'stdout.log'));
    await until(() => {
      const onDisk = JSON.parse(fs.readFileSync(path.join(home, 'runs', record.run_id, 'run.json'), 'utf8'));
      return onDisk.status === 'failed' && onDisk.error.code === 'disk_full';
    }, 'the terminal record on disk', 20_000);
    await until(() => !fs.existsSync(path.join(home, 'active', record.run_id)), 'the active marker to go');
    expect(fs.readdirSync(path.join(home, 'runs', record.run_id)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('output the child writes to the log itself: failed with disk_full, not succeeded with a cut-short log', async () => {
    const { server } = await serverOnSmallDisk();
    const record = structured(await server.call('spawn', { task: '@bytes=20000000', wait_s: 50 }));
    expect(record.status).toBe('failed');
    expect(record.error.code).toBe('disk_full');
  });

  it('a spawn on a disk already full is refused with disk_full, and leaves no half-written record', async () => {
    const { server, home } = await serverOnSmallDisk();
    expect(structured(await server.call('spawn', { task: 'room yet' })).status).toBe('succeeded');
    const filler = path.join(path.dirname(home), 'filler');
    try {
      fs.writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
    } catch {
      // full: what the test wants
    }
    const refused = await server.call('spawn', { task: 'no room' });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/disk_full/);
    for (const id of fs.readdirSync(path.join(home, 'runs'))) {
      const names = fs.readdirSync(path.join(home, 'runs', id));
      expect(names.filter((name) => name.endsWith('.tmp'))).toEqual([]);
      if (names.includes('run.json')) expect(() => JSON.parse(fs.readFileSync(path.join(home, 'runs', id, 'run.json'), 'utf8'))).not.toThrow();
    }
    fs.rmSync(filler);
    expect(structured(await server.call('spawn', { task: 'room again' })).status).toBe('succeeded');
  });
});
