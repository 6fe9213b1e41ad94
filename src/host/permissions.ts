/** The rule every host with tool permissions follows: the runtime's allow-list is the ceiling, and a request may narrow it, never widen it. */
import { FractaError } from '../errors.js';

/** The allow-list in force: the request's, checked against the ceiling; else the ceiling (undefined: none). */
export function narrowTools(
  runtime: string,
  ceiling: readonly string[] | undefined,
  requested: readonly string[] | undefined,
  /** Whether one requested tool falls within the ceiling (each CLI has its own pattern syntax). */
  within: (tool: string, ceiling: readonly string[]) => boolean,
): readonly string[] | undefined {
  if (requested === undefined) return ceiling;
  if (ceiling === undefined) return requested;
  const outside = requested.filter((tool) => !within(tool, ceiling));
  if (outside.length > 0) throw wideningError(runtime, outside, ceiling);
  return requested;
}

export function wideningError(runtime: string, outside: readonly string[], ceiling: readonly string[]): FractaError {
  return new FractaError(
    'invalid_input',
    `allowed_tools: ${outside.map((tool) => `"${tool}"`).join(', ')} ${outside.length > 1 ? 'are' : 'is'} outside the permissions of runtime "${runtime}" (allowed: ${ceiling.join(', ') || 'none'}); a request may narrow a runtime's permissions, never widen them`,
    'allowed_tools',
  );
}
