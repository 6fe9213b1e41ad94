/**
 * Masking secrets wherever fracta writes or answers. A secret reaches fracta's output not only as
 * itself: an agent that speaks JSON writes it escaped (`"` as `\"`, `\` as `\\`, `/` as `\/`, a
 * non-ASCII letter as `\u00e9` or `\u00E9`, `<` as `\u003c`), and the byte masker must find those
 * forms too. So the list of values to mask is made once per run with every such form of each secret
 * (withEncodedForms), and the maskers below only match bytes: a secret of plain letters and digits,
 * the usual kind, has one form, so masking costs no more than before.
 */

import { FractaError } from './errors.js';

/** Secrets shorter than this are not masked: replacing every "a" or "42" would garble everything. */
export const MIN_SECRET_LENGTH = 4;

const hex4 = (code: number, upper: boolean): string => {
  const digits = code.toString(16).padStart(4, '0');
  return `\\u${upper ? digits.toUpperCase() : digits}`;
};

/** Every UTF-16 unit matching `escape` written as \uXXXX, after JSON's own escapes. */
function escapeUnits(json: string, escape: (code: number) => boolean, upper: boolean): string {
  let out = '';
  for (let index = 0; index < json.length; index++) {
    const code = json.charCodeAt(index);
    out += escape(code) ? hex4(code, upper) : json[index];
  }
  return out;
}

/**
 * The secret as the JSON encoders of our field write it inside a string: JavaScript and Rust (serde),
 * with `\/` (PHP, some Java), ASCII-only in lower and upper hex (Python's ensure_ascii, Jackson,
 * .NET), and HTML-safe (Go's encoding/json). Deduplicated; the raw value first.
 */
export function encodedForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const forms = new Set([secret, json, json.replaceAll('/', '\\/')]);
  for (const upper of [false, true]) {
    forms.add(escapeUnits(json, (code) => code > 0x7e, upper));
    // Go also escapes U+2028 and U+2029, and writes control characters as \u00XX.
    forms.add(escapeUnits(json, (code) => code === 0x3c || code === 0x3e || code === 0x26 || code === 0x2028 || code === 0x2029, upper));
  }
  return [...forms];
}

/** The values to mask for these secrets: each one's encoded forms, long enough to mask, longest first. */
export function withEncodedForms(secrets: Iterable<string>): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    for (const form of encodedForms(secret)) forms.add(form);
  }
  return [...forms].sort((a, b) => b.length - a.length);
}



const STARS = Buffer.from('***');

/** Replaces each secret value by *** (longest first, so one secret inside another is fully hidden). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * Masks secrets in a stream of bytes that arrives in pieces. Only an end of a piece that could be the
 * start of a secret is held back until the next piece (so a secret cut in two is still found whole);
 * everything else passes at once, so a live agent's output is never delayed. It works on the bytes
 * (a secret's UTF-8 bytes match where its characters do): no decoding, and no copy of a piece that
 * holds no secret, so a 100 MB output costs little more than passing it on.
 */
export class StreamMasker {
  private readonly secrets: Buffer[];
  private readonly longest: number;
  private carry: Buffer = Buffer.alloc(0);

  constructor(secrets: readonly string[]) {
    this.secrets = secrets
      .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
      .map((secret) => Buffer.from(secret))
      .sort((a, b) => b.length - a.length);
    this.longest = Math.max(0, ...this.secrets.map((secret) => secret.length));
  }

  push(chunk: Buffer): Buffer {
    const masked = this.mask(this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk);
    const hold = this.heldBack(masked);
    // A copy: the held-back end must not keep the whole piece alive.
    this.carry = Buffer.from(masked.subarray(masked.length - hold));
    return masked.subarray(0, masked.length - hold);
  }

  /** Every secret replaced by ***, longest first (so one secret inside another is fully hidden). */
  private mask(data: Buffer): Buffer {
    let out = data;
    for (const secret of this.secrets) {
      let at = out.indexOf(secret);
      if (at === -1) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at !== -1) {
        parts.push(out.subarray(from, at), STARS);
        from = at + secret.length;
        at = out.indexOf(secret, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }

  /** The length of the longest end of `data` that is the beginning of some secret. */
  private heldBack(data: Buffer): number {
    for (let length = Math.min(this.longest - 1, data.length); length > 0; length--) {
      const end = data.subarray(data.length - length);
      if (this.secrets.some((secret) => secret.length > length && secret.subarray(0, length).equals(end))) return length;
    }
    return 0;
  }

  end(): Buffer {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return rest;
  }
}

/**
 * A copy of a JSON-like value with every string in it (keys too) masked: for values fracta serializes
 * itself, where masking the serialized text could cut through JSON's own syntax.
 */
export function maskDeep<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') return maskSecrets(item, secrets);
    if (Array.isArray(item)) return item.map(walk);
    if (item !== null && typeof item === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(item)) out[maskSecrets(key, secrets)] = walk(inner);
      return out;
    }
    return item;
  };
  return walk(value) as T;
}

/** The error with its message masked (a FractaError keeps its code and field). */
export function maskError(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof Error) || secrets.length === 0) return error;
  const message = maskSecrets(error.message, secrets);
  if (message === error.message) return error;
  if (error instanceof FractaError) return new FractaError(error.code, message, error.field);
  return Object.assign(new Error(message), { code: (error as NodeJS.ErrnoException).code });
}
