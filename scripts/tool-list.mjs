#!/usr/bin/env node
/**
 * Build step (npm run build): writes dist/mcp/tool-list.json, the tool list a root and a child
 * fracta answer `tools/list` with, its descriptions holding CEILING_SENTINEL where the client's wait
 * ceiling goes (mcp/tool-list.ts fills it in). Made from the built tools, so it cannot drift from them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const { TOOLS } = await import(path.join(dist, 'mcp/tools.js'));
const { toolList, CEILING_SENTINEL } = await import(path.join(dist, 'mcp/tool-list.js'));
const { toolJsonSchema } = await import(path.join(dist, 'mcp/json-schema.js'));
const listable = TOOLS.map((tool) => ({ ...tool, inputSchema: toolJsonSchema(tool.input, 'input'), ...(tool.output ? { outputSchema: toolJsonSchema(tool.output, 'output') } : {}) }));
const lists = { root: toolList(listable, false, CEILING_SENTINEL), child: toolList(listable, true, CEILING_SENTINEL) };
const text = JSON.stringify(lists);
// The sentinel must stand only for the ceiling: a list made without it must not hold the number.
const without = JSON.stringify({ root: toolList(listable, false, 50), child: toolList(listable, true, 50) });
if (without.includes(String(CEILING_SENTINEL)) || !text.includes(String(CEILING_SENTINEL))) throw new Error('tool-list: the ceiling sentinel is not unique to the descriptions');
fs.writeFileSync(path.join(dist, 'mcp/tool-list.json'), text);
