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
  // The same agents over the Agent Client Protocol. gemini starts the MCP servers it is given only in a
  // trusted folder: add GEMINI_CLI_TRUST_WORKSPACE: "true" to this runtime's env for agent_mcp
  // (it then also reads a repository's own .gemini settings, which is why it is not the default).
  'gemini-acp': { adapter: 'acp', description: 'Gemini CLI over ACP (gemini --acp)', command: 'gemini', args: ['--acp'] },
  'opencode-acp': { adapter: 'acp', description: 'OpenCode over ACP (opencode acp)', command: 'opencode', args: ['acp'] },
};
