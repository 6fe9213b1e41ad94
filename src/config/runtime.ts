import type { CleanupPolicy, KubernetesConfig, ModelTier } from './schema.js';

/** A runtime after validation: what hosts and the pipeline use. Hosts never read raw YAML. */
export interface RuntimeConfig<Options = unknown> {
  readonly name: string;
  readonly adapter: string;
  readonly description: string | undefined;
  readonly model: string | undefined;
  readonly modelTiers: Readonly<Partial<Record<ModelTier, string>>>;
  /** Values may hold ${VAR} references, read from fracta's environment at spawn time. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutS: number | undefined;
  readonly cleanup: CleanupPolicy | undefined;
  readonly kubernetes: KubernetesConfig | undefined;
  /** The adapter's own settings, validated by its schema. */
  readonly options: Options;
}

export interface FractaConfig {
  /** The file it came from, or null for the built-in defaults. */
  readonly source: string | null;
  /** Where a relative `command` path is found: the config file's folder (else the current one). */
  readonly baseDir: string;
  readonly defaultRuntime: string;
  readonly timeoutS: number;
  readonly killGraceS: number;
  /** A live session left waiting for a message this long is closed. */
  readonly sessionIdleS: number;
  readonly cleanup: CleanupPolicy;
  readonly runtimes: ReadonlyMap<string, RuntimeConfig>;
}
