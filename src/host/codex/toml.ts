/**
 * TOML values for codex's `-c key=value` overrides. Codex parses the value as TOML and, when that
 * fails, silently takes the raw text as a string, so a value must be exact TOML or it changes meaning.
 */

export type TomlValue = string | number | boolean | readonly TomlValue[] | { readonly [key: string]: TomlValue };

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

export function tomlKey(key: string): string {
  return BARE_KEY.test(key) ? key : tomlString(key);
}

/** A TOML basic string. JSON's escapes are TOML's, except that TOML has no escape for lone surrogates. */
function tomlString(text: string): string {
  if (/[\uD800-\uDFFF]/.test(text.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) {
    throw new Error(`cannot write ${JSON.stringify(text.slice(0, 40))} as TOML: it holds a lone surrogate`);
  }
  return JSON.stringify(text).replace(/\u007f/g, '\\u007f');
}

/** One value in TOML's inline syntax (tables as `{a = 1, b = "x"}`), for a single command-line argument. */
export function tomlValue(value: unknown): string {
  if (typeof value === 'string') return tomlString(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as TOML`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, inner]) => inner !== undefined);
    return `{${entries.map(([key, inner]) => `${tomlKey(key)} = ${tomlValue(inner)}`).join(', ')}}`;
  }
  throw new Error(`cannot write ${value === null ? 'null' : typeof value} as TOML`);
}

/** `-c path=value`: a dotted path of keys, then the TOML value. */
export function override(path: readonly string[], value: unknown): string[] {
  return ['-c', `${path.map(tomlKey).join('.')}=${tomlValue(value)}`];
}
