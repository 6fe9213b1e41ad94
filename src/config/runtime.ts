import type { z } from 'zod';
import type { ApprovalsConfig, BudgetConfig, KubernetesConfig, PriceConfig } from './schema.js';
import type { BackendName, CleanupPolicy, ModelTier } from '../vocabulary.js';

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
  /** End the run as timed_out when the child writes nothing for this long. */
  readonly idleTimeoutS: number | undefined;
  readonly cleanup: CleanupPolicy | undefined;
  /** Runs of this runtime at once (across fracta processes sharing FRACTA_HOME). */
  readonly maxConcurrent: number | undefined;
  /** Only these of fracta's variables reach the child (overrides agents.inherit_env). */
  readonly inheritEnv: readonly string[] | undefined;
  /** Where its runs go unless a spawn says otherwise (default local). */
  readonly backend: BackendName | undefined;
  readonly kubernetes: KubernetesConfig | undefined;
  /** This runtime's approvals, over agents.approvals key by key. */
  readonly approvals?: ApprovalsConfig | undefined;
  /** This runtime's default budget per spawn, over agents.budget key by key. */
  readonly budget?: BudgetConfig | undefined;
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
  readonly idleTimeoutS: number | undefined;
  /** Runs at once across fracta processes sharing FRACTA_HOME, and per runtime by default. */
  readonly maxConcurrent: number;
  readonly maxRuntimeConcurrent: number;
  /** How deep agents may spawn agents (1: only a client's spawns), and how many runs one run may spawn. */
  readonly maxDepth: number;
  readonly maxChildren: number;
  readonly secretEnv: readonly string[];
  readonly inheritEnv: readonly string[] | undefined;
  readonly cleanup: CleanupPolicy;
  /** Folders a spawn's repo must be under, when set. */
  readonly allowedRepoRoots: readonly string[] | undefined;
  /** agents.approvals: what happens to runs' permission requests and questions. */
  readonly approvals: ApprovalsConfig;
  /** agents.budget: the default budget of every spawn. */
  readonly budget: BudgetConfig;
  /** agents.budget.reserve: what each run holds of the budgets above it until its spend is known. */
  readonly reserve: { readonly usd?: number; readonly tokens?: number; readonly turns?: number };
  /** agents.mcp.wait_ceiling_s: the longest a tool call waits, per MCP client name (and `default`), over fracta's table. */
  readonly waitCeilings: Readonly<Record<string, number>>;
  /** pricing: per model, over the built-in table. */
  readonly pricing: Readonly<Record<string, PriceConfig>>;
  readonly runtimes: ReadonlyMap<string, RuntimeConfig>;
}

/** What config needs of an adapter: the keys it adds to a runtime, and its own cross-field checks. */
export interface AdapterSchema<Options = any> {
  readonly name: string;
  /** Keys this adapter adds to a runtime's settings. */
  readonly optionsShape: z.ZodRawShape;
  /** Cross-field checks on the adapter's options; returns problems as [key, message]. */
  check?(options: Options): Array<[string, string]>;
}

/** The adapters a config may name (host/adapters.ts has fracta's). */
export interface AdapterCatalog {
  names(): string[];
  find(name: string): AdapterSchema | undefined;
}
