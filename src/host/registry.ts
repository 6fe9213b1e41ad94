/** Runtimes by name, each with its host; resolves a request's runtime (or the default one). */
import { didYouMean } from '../did-you-mean.js';
import type { FractaConfig, RuntimeConfig } from '../config/runtime.js';
import { FractaError } from '../errors.js';
import { findAdapter } from './adapters.js';
import { tierOf, type Capabilities, type Host, type Tier } from './host.js';

export interface ResolvedRuntime {
  readonly runtime: RuntimeConfig;
  readonly host: Host;
  readonly capabilities: Capabilities;
  readonly tier: Tier;
}

export class RuntimeRegistry {
  private readonly entries = new Map<string, ResolvedRuntime>();

  constructor(private defaultName: string | undefined = undefined) {}

  register(runtime: RuntimeConfig, host: Host): void {
    const capabilities = host.capabilities();
    this.entries.set(runtime.name, { runtime, host, capabilities, tier: tierOf(capabilities) });
    this.defaultName ??= runtime.name;
  }

  /** The named runtime, or the default one when no name is given. */
  resolve(name: string | undefined): ResolvedRuntime {
    const wanted = name ?? this.defaultName;
    const entry = wanted === undefined ? undefined : this.entries.get(wanted);
    if (!entry) {
      const known = [...this.entries.keys()];
      throw new FractaError(
        'unknown_runtime',
        `unknown runtime "${wanted ?? ''}"${didYouMean(wanted ?? '', known)}: the configured runtimes are ${known.join(', ') || 'none'} (add one under agents.agent_runtimes in fracta.yaml)`,
        'runtime',
      );
    }
    return entry;
  }

  list(): ResolvedRuntime[] {
    return [...this.entries.values()];
  }

  static fromConfig(config: FractaConfig): RuntimeRegistry {
    const cached = byConfig.get(config);
    if (cached) return cached;
    const registry = new RuntimeRegistry(config.defaultRuntime);
    for (const runtime of config.runtimes.values()) {
      // load.ts only keeps runtimes whose adapter exists.
      registry.register(runtime, findAdapter(runtime.adapter)!.create(runtime));
    }
    byConfig.set(config, registry);
    return registry;
  }
}

const byConfig = new WeakMap<FractaConfig, RuntimeRegistry>();
