import fs from 'node:fs';
import { loadConfig, locateConfig } from './load.js';
import type { AdapterCatalog, FractaConfig } from './runtime.js';

/**
 * The config as of now. A long-lived server (Claude Desktop keeps it for days) picks up edits to
 * fracta.yaml on the next call without a restart; an unchanged file is not read again.
 */
export class ConfigSource {
  private cached: { key: string; config: FractaConfig } | undefined;

  constructor(
    private readonly flag: string | undefined,
    private readonly adapters: AdapterCatalog,
  ) {}

  current(): FractaConfig {
    const location = locateConfig(this.flag);
    let key = 'builtin';
    if (location.path !== null) {
      try {
        const stat = fs.statSync(location.path);
        key = `${location.path}:${stat.mtimeMs}:${stat.size}`;
      } catch {
        key = `${location.path}:missing`;
      }
    }
    if (this.cached?.key === key) return this.cached.config;
    const config = loadConfig(location, this.adapters);
    this.cached = { key, config };
    return config;
  }
}
