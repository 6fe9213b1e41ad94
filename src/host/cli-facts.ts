/**
 * What `fracta doctor` knows of each agent CLI fracta drives: the npm package fracta pins and is
 * tested against (its version is read from fracta's own package.json), how to install it, and how it
 * logs in when headless. Looked up by the executable's name, so that an ACP runtime of `gemini
 * --acp` is checked as gemini, and else by the adapter's name (a claude runtime whose command is a
 * wrapper script).
 */
import path from 'node:path';

export interface LoginFacts {
  /** Any of these set (non-empty) in the child's environment is a login. */
  readonly variables: readonly string[];
  /** Any of these files existing is a login (the CLI's own, after its interactive sign-in). */
  readonly files: (env: Readonly<Record<string, string | undefined>>) => string[];
  /** The fix, in a sentence. */
  readonly how: string;
}

export interface CliFacts {
  /** The npm package fracta pins as a dev dependency of this CLI (its version is the one tested). */
  readonly package: string;
  readonly install: string;
  readonly login?: LoginFacts;
}

const home = (env: Readonly<Record<string, string | undefined>>) => env.HOME ?? '';

const CLAUDE: CliFacts = {
  package: '@anthropic-ai/claude-code',
  install: 'npm install -g @anthropic-ai/claude-code',
  login: {
    variables: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'],
    files: (env) => [path.join(env.CLAUDE_CONFIG_DIR ?? path.join(home(env), '.claude'), '.credentials.json')],
    how: 'run `claude` once and sign in (/login), or set ANTHROPIC_API_KEY (or CLAUDE_CODE_OAUTH_TOKEN from `claude setup-token`) where fracta starts',
  },
};

const CODEX: CliFacts = {
  package: '@openai/codex',
  install: 'npm install -g @openai/codex',
  login: {
    variables: ['OPENAI_API_KEY', 'CODEX_API_KEY'],
    files: (env) => [path.join(env.CODEX_HOME ?? path.join(home(env), '.codex'), 'auth.json')],
    how: 'run `codex login`, or set OPENAI_API_KEY where fracta starts',
  },
};

const GEMINI: CliFacts = {
  package: '@google/gemini-cli',
  install: 'npm install -g @google/gemini-cli',
  login: {
    variables: ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_APPLICATION_CREDENTIALS'],
    files: (env) => [path.join(home(env), '.gemini', 'oauth_creds.json')],
    how: 'run `gemini` once and sign in with Google, or set GEMINI_API_KEY where fracta starts',
  },
};

const OPENCODE: CliFacts = {
  package: `opencode-${process.platform}-${process.arch}`,
  install: 'npm install -g opencode-ai',
  login: {
    // opencode reads the key of whichever provider its model names.
    variables: ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'OPENROUTER_API_KEY', 'GROQ_API_KEY'],
    files: (env) => [path.join(env.XDG_DATA_HOME ?? path.join(home(env), '.local', 'share'), 'opencode', 'auth.json')],
    how: 'run `opencode auth login`, or set the API key of the provider your model uses where fracta starts',
  },
};

const BY_NAME: Readonly<Record<string, CliFacts>> = {
  claude: CLAUDE,
  codex: CODEX,
  gemini: GEMINI,
  opencode: OPENCODE,
  'codex-acp': { package: '@agentclientprotocol/codex-acp', install: 'npm install -g @agentclientprotocol/codex-acp (it runs on Node 22)', login: CODEX.login! },
  'claude-agent-acp': { package: '@agentclientprotocol/claude-agent-acp', install: 'npm install -g @agentclientprotocol/claude-agent-acp', login: CLAUDE.login! },
};

export function cliFacts(command: string, adapter: string): CliFacts | undefined {
  return BY_NAME[path.basename(command)] ?? BY_NAME[adapter];
}
