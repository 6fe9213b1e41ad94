/**
 * Adapters by name. Each owns a schema for its runtime keys in fracta.yaml and a factory that makes
 * a Host for one runtime. Adding a CLI means adding an entry here.
 */
import type { AdapterCatalog } from '../config/runtime.js';
import type { AdapterDefinition } from './host.js';
import { claudeAdapter } from './claude/adapter.js';
import { codexAdapter } from './codex/adapter.js';
import { commandAdapter } from './command/adapter.js';
import { geminiAdapter } from './gemini/adapter.js';
import { opencodeAdapter } from './opencode/adapter.js';
import { acpAdapter } from './acp/adapter.js';

const adapters = new Map<string, AdapterDefinition>([
  [commandAdapter.name, commandAdapter],
  [claudeAdapter.name, claudeAdapter],
  [codexAdapter.name, codexAdapter],
  [opencodeAdapter.name, opencodeAdapter],
  [geminiAdapter.name, geminiAdapter],
  [acpAdapter.name, acpAdapter],
]);

export function findAdapter(name: string): AdapterDefinition | undefined {
  return adapters.get(name);
}

/** The adapters, as the config loader checks runtimes against them. */
export const ADAPTERS: AdapterCatalog = {
  names: () => [...adapters.keys()],
  find: findAdapter,
};

export function registerAdapter(definition: AdapterDefinition): void {
  adapters.set(definition.name, definition);
}
