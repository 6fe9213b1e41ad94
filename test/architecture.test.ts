/**
 * The house as drawn in docs/architecture.md: imports in src/ run one way, from the front ends down
 * to the ground floor, and no two files import each other, however indirectly (type-only imports and
 * dynamic import() count too: a cycle of types is still a knot to untie before any file can move).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/harness.js';

const SRC = path.join(ROOT, 'src');

/** Floors, highest first; a file may import only from its own floor or a lower one. */
const FLOORS: ReadonlyArray<readonly [floor: number, name: string, prefixes: readonly string[]]> = [
  [9, 'front ends', ['cli.ts', 'cli/', 'mcp/', 'board/']],
  [8, 'service', ['service.ts']],
  [7, 'runs', ['runs/']],
  [6, 'plan', ['spawn/']],
  [5, 'budgets', ['budget/']],
  [4, 'requests', ['requests.ts']],
  [3, 'backends', ['executor/']],
  [2, 'hosts', ['host/']],
  [1, 'config and workspace', ['config/', 'workspace/']],
];
/** Every other file directly in src/ (names, errors, events, secrets, paths, record, ...). */
const GROUND = [0, 'ground floor'] as const;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full)] : [];
  });
}

/** Every relative import of a file (static, type-only, re-export, dynamic), as paths relative to src/. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(SRC, file), 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) {
    const spec = (match[1] ?? match[2])!;
    found.push(path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts'));
  }
  return found;
}

function floorOf(file: string): readonly [number, string] {
  for (const [floor, name, prefixes] of FLOORS) if (prefixes.some((prefix) => file === prefix || file.startsWith(prefix))) return [floor, name];
  if (!file.includes('/')) return GROUND;
  throw new Error(`${file} is on no floor: add its folder to FLOORS here and in docs/architecture.md`);
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe('the import graph of src/', () => {
  it('every import resolves to a file of src/ (so the graph below is the whole graph)', () => {
    const missing = [...graph].flatMap(([file, imports]) => imports.filter((target) => !graph.has(target)).map((target) => `${file} -> ${target}`));
    expect(missing).toEqual([]);
    expect(files.length).toBeGreaterThan(50);
  });

  it('runs one way: from the front ends down to the ground floor, never up or sideways into another floor', () => {
    const against: string[] = [];
    for (const [file, imports] of graph) {
      const [from, fromName] = floorOf(file);
      for (const target of imports) {
        const [to, toName] = floorOf(target);
        // Within a floor, anything goes that makes no cycle (the next test).
        if (to <= from) continue;
        against.push(`${file} (${fromName}) -> ${target} (${toName})`);
      }
    }
    expect(against).toEqual([]);
  });

  it('has no cycle, type-only imports included', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const target of graph.get(file) ?? []) {
        if (state.get(target) === 'open') cycles.push([...stack.slice(stack.indexOf(target)), target].join(' -> '));
        else if (!state.has(target)) visit(target);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});
