#!/usr/bin/env node
// The floor for "RSS growth with a large output": a bare Node process doing what fracta does with a
// child's output (`cat FILE` piped into a log file with stream.pipeline), reporting its own RSS
// before and its peak growth during the copy, as JSON.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';

const [file, out] = process.argv.slice(2);
const mb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
await new Promise((resolve) => setTimeout(resolve, 200));
const before = mb('VmRSS');
let reset = true;
try {
  fs.writeFileSync('/proc/self/clear_refs', '5');
} catch {
  reset = false;
}
let sampled = before;
const timer = setInterval(() => (sampled = Math.max(sampled, mb('VmRSS'))), 10);
const child = spawn('cat', [file], { stdio: ['ignore', 'pipe', 'ignore'] });
await pipeline(child.stdout, fs.createWriteStream(out));
clearInterval(timer);
const peak = Math.max(sampled, mb('VmRSS'), reset ? mb('VmHWM') : 0);
process.stdout.write(`${JSON.stringify({ before, growth: peak - before })}\n`);
