/**
 * The `command` host: any CLI described in fracta.yaml, at the Batch tier (with a resume token when
 * `resume_args` says how to pass one). Users add a runtime without writing code.
 */
import path from 'node:path';
import { z } from 'zod';
import { oneOf } from '../../config/schema.js';
import type { RuntimeConfig } from '../../config/runtime.js';
import type { WorkspaceFile } from '../../workspace/files.js';
import { FractaError } from '../../errors.js';
import { FRACTA_DIR } from '../bootstrap.js';
import {
  NO_CAPABILITIES,
  StreamNotSupported,
  type Capabilities,
  type CommandInput,
  type CommandSpec,
  type Host,
  type StreamSpec,
  type AdapterDefinition,
} from '../host.js';
import { parseJson, parseText } from './parse.js';
import { PLACEHOLDERS, substitute, unknownPlaceholders, usesPlaceholder, type Placeholder } from './placeholders.js';

/** Linux refuses a single argv element longer than this (MAX_ARG_STRLEN, 32 pages, with its NUL). */
export const MAX_ARG_BYTES = 128 * 1024 - 1;

const optionsShape = {
  command: z.string({ error: 'is required: the executable to run (a name on PATH or an absolute path)' }).min(1),
  args: z.array(z.string(), { error: 'must be a list of strings' }).default([]),
  prompt_via: oneOf(['stdin', 'arg', 'file'] as const, 'prompt_via').default('stdin'),
  output: oneOf(['text', 'json'] as const, 'output format').default('text'),
  result_path: z.string().min(1).default('result'),
  session_path: z.string().min(1).optional(),
  error_path: z.string().min(1).optional(),
  cost_path: z.string().min(1).optional(),
  usage_path: z.string().min(1).optional(),
  turns_path: z.string().min(1).optional(),
  resume_args: z.array(z.string()).optional(),
};
export type CommandOptions = z.infer<z.ZodObject<typeof optionsShape>>;

const PROMPT_FILE = `${FRACTA_DIR}/prompt.md`;

/** Programs that run their argument after `-c`/`-e` as code: a placeholder there is code the caller writes. */
const INTERPRETERS = /^(?:[a-z]*sh|fish|pwsh|powershell|cmd|busybox|python[0-9.]*|node|nodejs|deno|bun|perl|ruby|php|lua|osascript)(?:\.exe)?$/i;
const CODE_FLAG = /^(?:-[A-Za-z]*[ce]|--eval|--command|-Command|\/c)$/;

/** `sh -c "agent {prompt}"`: the prompt would be parsed by the shell, so a task could run any command. */
function placeholderInCode(command: string, args: readonly string[]): string | undefined {
  if (!INTERPRETERS.test(path.basename(command))) return undefined;
  return args.find((arg, at) => at > 0 && CODE_FLAG.test(args[at - 1]!) && PLACEHOLDERS.some((name) => usesPlaceholder([arg], name)));
}

function check(options: CommandOptions): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const known = PLACEHOLDERS.map((name) => `{${name}}`).join(', ');
  for (const key of ['args', 'resume_args'] as const) {
    for (const name of unknownPlaceholders(options[key] ?? [])) {
      problems.push([key, `unknown placeholder {${name}} (use ${known})`]);
    }
  }
  const args = options.args;
  if (options.prompt_via === 'arg' && !usesPlaceholder(args, 'prompt')) {
    problems.push(['args', 'prompt_via is arg, so args must contain {prompt}']);
  }
  if (options.prompt_via !== 'arg' && usesPlaceholder(args, 'prompt')) {
    problems.push(['args', `{prompt} is in args but prompt_via is ${options.prompt_via}: set prompt_via: arg, or remove {prompt}`]);
  }
  if (options.prompt_via === 'file' && !usesPlaceholder(args, 'prompt_file')) {
    problems.push(['args', 'prompt_via is file, so args must contain {prompt_file}']);
  }
  if (usesPlaceholder(args, 'resume_token')) {
    problems.push(['args', '{resume_token} belongs in resume_args, which are added only when a run resumes']);
  }
  if (options.resume_args && !usesPlaceholder(options.resume_args, 'resume_token')) {
    problems.push(['resume_args', 'must contain {resume_token}']);
  }
  for (const key of ['args', 'resume_args'] as const) {
    const code = placeholderInCode(options.command, options[key] ?? []);
    if (code !== undefined) {
      problems.push([
        key,
        `a placeholder inside the code that ${path.basename(options.command)} runs (${JSON.stringify(code.slice(0, 60))}) lets a task run any command: pass the value as its own argument (args: ["-c", 'agent "$1"', "sh", "{prompt}"]) or use prompt_via: stdin`,
      ]);
    }
  }
  if (options.session_path && options.output !== 'json') {
    problems.push(['session_path', 'needs output: json']);
  }
  return problems;
}

/**
 * A task given as its own argument is read as an option by most CLIs when it starts with "-". Unless
 * the runtime's args end the options first (`--`), such a task is refused rather than passed.
 */
function checkPromptNotAnOption(runtime: string, template: readonly string[], prompt: string): void {
  if (!prompt.startsWith('-')) return;
  const at = template.indexOf('{prompt}');
  if (at === -1 || template.slice(0, at).includes('--')) return;
  throw new FractaError(
    'invalid_input',
    `task: starts with "-", and runtime "${runtime}" passes it as its own argument, where its CLI would read it as an option: start the task with another character, or put "--" before {prompt} in the runtime's args`,
    'task',
  );
}

class CommandHost implements Host {
  readonly adapter = 'command';
  // A generic CLI's session rules are unknown; resumes run in a fresh workspace.
  readonly resumeInSameWorkdir = false;

  constructor(private readonly runtime: RuntimeConfig<CommandOptions>) {}

  /** Where its output says what it cost (cost_path). */
  get reportsCost(): boolean {
    return this.runtime.options.cost_path !== undefined;
  }

  capabilities(): Capabilities {
    return { ...NO_CAPABILITIES, resumeToken: this.runtime.options.resume_args !== undefined };
  }

  command(): string {
    return this.runtime.options.command;
  }

  async workspaceFiles(): Promise<WorkspaceFile[]> {
    // A generic CLI has no settings files for fracta to write.
    return [];
  }


  buildBatchCommand(input: CommandInput): CommandSpec {
    const { options, name } = this.runtime;
    const template = input.resumeToken ? [...options.args, ...(options.resume_args ?? [])] : options.args;
    const values: Partial<Record<Placeholder, string>> = {
      prompt: input.prompt,
      prompt_file: path.join(input.workdir, PROMPT_FILE),
      model: input.model,
      workdir: input.workdir,
      resume_token: input.resumeToken,
    };
    const args = substitute(template, values, (placeholder) => {
      throw new FractaError(
        'invalid_input',
        placeholder === 'model'
          ? `runtime "${name}" puts {model} in its args but no model is set: pass model, or set model for the runtime in fracta.yaml`
          : `runtime "${name}" needs a value for {${placeholder}}`,
        placeholder,
      );
    });
    checkPromptNotAnOption(name, template, input.prompt);
    for (const arg of args) {
      const bytes = Buffer.byteLength(arg);
      if (bytes > MAX_ARG_BYTES) {
        throw new FractaError(
          'prompt_too_long',
          `runtime "${name}" passes the prompt as one command-line argument, and at ${bytes} bytes it is over the ${MAX_ARG_BYTES + 1}-byte limit Linux sets on one; set prompt_via: stdin (or file) for this runtime in fracta.yaml`,
          'task',
        );
      }
    }
    return {
      command: options.command,
      args,
      stdin: options.prompt_via === 'stdin' ? input.prompt : undefined,
      files: options.prompt_via === 'file' ? [{ path: PROMPT_FILE, content: input.prompt }] : undefined,
    };
  }

  parseBatchOutput: Host['parseBatchOutput'] = (stdout) => {
    const { options } = this.runtime;
    if (options.output === 'text') return parseText(stdout);
    return parseJson(stdout, {
      result: options.result_path,
      session: options.session_path,
      isError: options.error_path,
      cost: options.cost_path,
      usage: options.usage_path,
      turns: options.turns_path,
    });
  };

  buildStreamCommand(): StreamSpec {
    throw new StreamNotSupported(this.runtime.name);
  }
}

export const commandAdapter: AdapterDefinition<CommandOptions> = {
  name: 'command',
  optionsShape,
  check,
  create: (runtime) => new CommandHost(runtime),
};
