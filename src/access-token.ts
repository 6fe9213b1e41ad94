/**
 * A token that guards a port of fracta's (the HTTP mode, the board). Compared as SHA-256 digests:
 * equal lengths whatever was sent, and no early exit that would let the token be timed out byte by byte.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export class AccessToken {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = AccessToken.hash(token);
  }

  matches(given: string | undefined): boolean {
    return given !== undefined && given.length > 0 && timingSafeEqual(AccessToken.hash(given), this.digest);
  }

  private static hash(text: string): Buffer {
    return createHash('sha256').update(text).digest();
  }
}
