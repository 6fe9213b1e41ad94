/**
 * The tool list as `tools/list` answers it, and the same list made at build time
 * (scripts/tool-list.mjs writes dist/mcp/tool-list.json). A client waits for `tools/list` right after
 * `initialize` (claude -p gives its servers 5 s), and making the list means loading the whole core
 * and turning every zod schema into JSON Schema; the prebuilt list answers without either.
 */
import fs from 'node:fs';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { CHILD_TOOL_NAMES, DEFAULT_WAIT_S, ROOT_TOOL_NAMES, type FractaToolName } from '../names.js';
import { waitCeiling, type WaitCeiling } from '../wait-ceiling.js';
import { locateConfig } from '../config/locate.js';

/** Stands for the ceiling in the prebuilt descriptions; no schema holds this number. */
export const CEILING_SENTINEL = 987_654;

export interface ListableTool {
  readonly name: FractaToolName;
  readonly title: string;
  readonly description: string | ((ceilingS: number) => string);
  readonly inputSchema: Tool['inputSchema'];
  readonly outputSchema?: Tool['outputSchema'];
  readonly annotations?: Tool['annotations'];
}

/** The tools a root fracta lists, or a child's (the one fracta gives an agent), for a client's ceiling. */
export function toolList(tools: readonly ListableTool[], isChild: boolean, ceilingS: number): Tool[] {
  return tools
    .filter((tool) => (isChild ? !ROOT_TOOL_NAMES.includes(tool.name) : !CHILD_TOOL_NAMES.includes(tool.name)))
    .map((tool) => ({
      name: tool.name,
      title: tool.title,
      description: typeof tool.description === 'string' ? tool.description : tool.description(ceilingS),
      inputSchema: tool.inputSchema,
      ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
      ...(tool.annotations ? { annotations: tool.annotations } : {}),
    }));
}

export interface PrebuiltLists {
  readonly root: Tool[];
  readonly child: Tool[];
}

let prebuilt: string | null | undefined;
const answered = new Map<string, Tool[]>();

/**
 * The prebuilt list with the ceiling filled in, or undefined when it cannot stand for the core's: no
 * file (a build without it), or a ceiling under spawn's default wait (the descriptions then differ).
 */
export function prebuiltToolList(isChild: boolean, ceilingS: number): Tool[] | undefined {
  if (ceilingS < DEFAULT_WAIT_S) return undefined;
  if (prebuilt === undefined) {
    try {
      prebuilt = fs.readFileSync(new URL('./tool-list.json', import.meta.url), 'utf8');
    } catch {
      prebuilt = null;
    }
  }
  if (prebuilt === null) return undefined;
  const key = `${isChild}:${ceilingS}`;
  let list = answered.get(key);
  if (!list) {
    const lists = JSON.parse(prebuilt.replaceAll(String(CEILING_SENTINEL), String(ceilingS))) as PrebuiltLists;
    list = isChild ? lists.child : lists.root;
    answered.set(key, list);
  }
  return list;
}

/**
 * The client's ceiling without loading the config's schema: the table's, when fracta.yaml sets no
 * agents.mcp.wait_ceiling_s (the key's name is not in the file); undefined when it may, and only the
 * core can say.
 */
export function quickCeiling(clientName: string | undefined, configFlag: string | undefined, env: NodeJS.ProcessEnv): WaitCeiling | undefined {
  const location = locateConfig(configFlag, env);
  if (location.path !== null) {
    try {
      const stat = fs.statSync(location.path);
      if (!stat.isFile() || stat.size > 1024 * 1024 || fs.readFileSync(location.path, 'utf8').includes('wait_ceiling_s')) return undefined;
    } catch {
      return undefined;
    }
  }
  return waitCeiling(clientName, {});
}
