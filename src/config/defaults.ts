/**
 * The built-in runtimes, used when no fracta.yaml is found and merged under a user's file (a runtime
 * of the same name in the file replaces the built-in one). They go through the same validation.
 */
export const BUILTIN_DEFAULT_RUNTIME = 'claude';

export const BUILTIN_RUNTIMES: Record<string, Record<string, unknown>> = {
  // Claude Code through the generic command host, at the Batch tier with resume.
  claude: {
    adapter: 'command',
    description: 'Claude Code (claude -p), prompt on stdin, JSON result',
    command: 'claude',
    args: ['-p', '--output-format', 'json', '--model', '{model}'],
    prompt_via: 'stdin',
    output: 'json',
    result_path: 'result',
    session_path: 'session_id',
    error_path: 'is_error',
    cost_path: 'total_cost_usd',
    usage_path: 'usage',
    turns_path: 'num_turns',
    resume_args: ['--resume', '{resume_token}'],
    model: 'sonnet',
    model_tiers: { heavy: 'opus', medium: 'sonnet', light: 'haiku' },
  },
};
