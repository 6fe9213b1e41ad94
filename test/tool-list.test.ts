/**
 * The tool list made at build time (dist/mcp/tool-list.json, answered before the core loads) is the
 * list the core makes, for a root and a child fracta and every known client's ceiling.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOOLS } from '../src/mcp/tools.js';
import { toolJsonSchema } from '../src/mcp/json-schema.js';
import { CEILING_SENTINEL, toolList, type PrebuiltLists } from '../src/mcp/tool-list.js';
import { CLIENT_WAIT_CEILINGS_S, DEFAULT_WAIT_CEILING_S } from '../src/names.js';
import { ROOT } from './helpers/harness.js';

const built = fs.readFileSync(path.join(ROOT, 'dist/mcp/tool-list.json'), 'utf8');
const listable = TOOLS.map((tool) => ({ ...tool, inputSchema: toolJsonSchema(tool.input, 'input'), ...(tool.output ? { outputSchema: toolJsonSchema(tool.output, 'output') } : {}) }));

describe('the prebuilt tool list', () => {
  for (const ceiling of [DEFAULT_WAIT_CEILING_S, ...Object.values(CLIENT_WAIT_CEILINGS_S), 3600]) {
    it(`is the core's list for a ceiling of ${ceiling} s, root and child`, () => {
      const lists = JSON.parse(built.replaceAll(String(CEILING_SENTINEL), String(ceiling))) as PrebuiltLists;
      expect(lists.root).toEqual(toolList(listable, false, ceiling));
      expect(lists.child).toEqual(toolList(listable, true, ceiling));
      expect(lists.root.find((tool) => tool.name === 'wait')!.description).toContain(`at most ${ceiling} for this client`);
    });
  }

  it('holds the sentinel only where a ceiling goes', () => {
    const without = JSON.stringify({ root: toolList(listable, false, 50), child: toolList(listable, true, 50) });
    expect(without).not.toContain(String(CEILING_SENTINEL));
    // spawn, wait and send state it, in the root's list and the child's.
    expect(built.split(String(CEILING_SENTINEL)).length - 1).toBe(2 * 3);
  });
});
