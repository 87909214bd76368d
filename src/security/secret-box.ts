import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** A short fingerprint of a key: names it in sealed values and messages, reveals nothing of it. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('loadnotify secret key id\0').update(key).digest('hex').slice(0, 8);
}

/**
 * AES-256-GCM for secrets at rest (channel URLs, secret settings, signing secrets). Format:
 * `v2:<key id>:<iv b64>:<tag b64>:<ciphertext b64>`, sealed with the current key. Opening
 * picks the key the value names, the current one or a previous one (LOADNOTIFY_SECRET_KEY_PREVIOUS,
 * during a key rotation), so values sealed under either open while `loadnotify rotate-key`
 * re-seals them one by one. Values from before key ids (`v1:<iv>:<tag>:<ciphertext>`) are
 * opened with whichever key's tag checks.
 */
export class SecretBox {
  /** The current key's id: new values are sealed with it. */
  readonly keyId: string;
  private readonly keys = new Map<string, Buffer>();

  constructor(key: Buffer, previous: readonly Buffer[] = []) {
    for (const k of [key, ...previous]) {
      if (k.length !== 32) throw new Error('SecretBox needs 32-byte keys');
      if (!this.keys.has(keyId(k))) this.keys.set(keyId(k), k);
    }
    this.keyId = keyId(key);
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.keyId)!, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      'v2',
      this.keyId,
      iv.toString('base64'),
      cipher.getAuthTag().toString('base64'),
      data.toString('base64'),
    ].join(':');
  }

  open(sealed: string): string {
    const parts = sealed.split(':');
    if (parts[0] === 'v2' && parts.length === 5) {
      const [, id, iv, tag, data] = parts as [string, string, string, string, string];
      const key = this.keys.get(id);
      if (!key) {
        throw new Error(
          `this secret is sealed with key ${id}, which is neither LOADNOTIFY_SECRET_KEY (${this.keyId}) ` +
            'nor LOADNOTIFY_SECRET_KEY_PREVIOUS',
        );
      }
      return decrypt(key, iv, tag, data);
    }
    if (parts[0] === 'v1' && parts.length === 4) {
      const [, iv, tag, data] = parts as [string, string, string, string];
      for (const key of this.keys.values()) {
        try {
          return decrypt(key, iv, tag, data);
        } catch {
          // Another key sealed it: try the next one.
        }
      }
      throw new Error('this secret was sealed with a key that is neither of the ones given');
    }
    throw new Error('unrecognised sealed secret');
  }

  /** Whether `sealed` is already sealed with the current key: key rotation leaves it alone. */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`v2:${this.keyId}:`);
  }
}

function decrypt(key: Buffer, iv: string, tag: string, data: string): string {
  // A tag shorter than the 16 bytes sealing writes would be accepted otherwise (and easier to forge).
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'), { authTagLength: 16 });
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
}
