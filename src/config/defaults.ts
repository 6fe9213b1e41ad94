/**
 * The built-in runtimes, used when no fracta.yaml is found and merged under a user's file (a runtime
 * of the same name in the file replaces the built-in one). They go through the same validation.
 */
export const BUILTIN_DEFAULT_RUNTIME = 'claude';

export const BUILTIN_RUNTIMES: Record<string, Record<string, unknown>> = {
  claude: {
    adapter: 'claude',
    description: 'Claude Code (claude -p)',
    model: 'sonnet',
    model_tiers: { heavy: 'opus', medium: 'sonnet', light: 'haiku' },
  },
  // No model: each CLI uses the one its user configured.
  codex: { adapter: 'codex', description: 'OpenAI Codex (codex exec)' },
  gemini: { adapter: 'gemini', description: 'Gemini CLI (gemini -p)' },
  opencode: { adapter: 'opencode', description: 'OpenCode (opencode run)' },
};
