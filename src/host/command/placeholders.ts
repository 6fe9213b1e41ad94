/**
 * `{prompt}`-style placeholders in a command runtime's args. Substitution is per argument element and
 * never goes through a shell, so a prompt is one argv element whatever it contains.
 */
export const PLACEHOLDERS = ['prompt', 'prompt_file', 'model', 'workdir', 'resume_token'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const PATTERN = /\{([a-z_]+)\}/g;

export function placeholdersIn(arg: string): string[] {
  return [...arg.matchAll(PATTERN)].map((match) => match[1]!);
}

export function unknownPlaceholders(args: readonly string[]): string[] {
  const known = new Set<string>(PLACEHOLDERS);
  return args.flatMap(placeholdersIn).filter((name) => !known.has(name));
}

export function usesPlaceholder(args: readonly string[], name: Placeholder): boolean {
  return args.some((arg) => placeholdersIn(arg).includes(name));
}

/** Replaces placeholders; `missing` is called for one that has no value and must throw. */
export function substitute(
  args: readonly string[],
  values: Partial<Record<Placeholder, string>>,
  missing: (name: Placeholder) => never,
): string[] {
  return args.map((arg) =>
    arg.replace(PATTERN, (whole, name: string) => {
      if (!(PLACEHOLDERS as readonly string[]).includes(name)) return whole;
      const value = values[name as Placeholder];
      return value ?? missing(name as Placeholder);
    }),
  );
}
