import { createHash, randomBytes } from 'node:crypto';

/** 256 random bits; the prefix tells a leaked string's origin to secret scanners and people. */
export function newToken(prefix: 'lnt' | 'lns' | 'lni'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** Tokens are high-entropy, so a plain SHA-256 is a safe lookup key (no salt or KDF needed). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
