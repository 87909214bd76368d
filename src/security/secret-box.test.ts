import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyId, SecretBox } from './secret-box.js';

/** A value as loadnotify sealed it before key ids (format v1). */
function sealV1(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(
    ':',
  );
}

describe('SecretBox', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);

  it('seals with the current key and names it by its id', () => {
    const box = new SecretBox(newKey, [oldKey]);
    const sealed = box.seal('https://hooks.example.com/T0/B0/secret');
    expect(sealed.startsWith(`v2:${keyId(newKey)}:`)).toBe(true);
    expect(box.isCurrent(sealed)).toBe(true);
    expect(new SecretBox(newKey).open(sealed)).toBe('https://hooks.example.com/T0/B0/secret');
  });

  it('opens values sealed with the previous key during a rotation, and knows them as not current', () => {
    const sealed = new SecretBox(oldKey).seal('routing key');
    const box = new SecretBox(newKey, [oldKey]);
    expect(box.open(sealed)).toBe('routing key');
    expect(box.isCurrent(sealed)).toBe(false);
  });

  it('opens values from before key ids with whichever key sealed them', () => {
    const box = new SecretBox(newKey, [oldKey]);
    expect(box.open(sealV1(oldKey, 'smtp password'))).toBe('smtp password');
    expect(box.open(sealV1(newKey, 'signing secret'))).toBe('signing secret');
    expect(box.isCurrent(sealV1(newKey, 'x'))).toBe(false);
  });

  it('names the key a value needs when neither key is it', () => {
    const sealed = new SecretBox(oldKey).seal('x');
    expect(() => new SecretBox(newKey).open(sealed)).toThrow(
      `this secret is sealed with key ${keyId(oldKey)}, which is neither LOADNOTIFY_SECRET_KEY (${keyId(newKey)}) nor LOADNOTIFY_SECRET_KEY_PREVIOUS`,
    );
    expect(() => new SecretBox(newKey).open(sealV1(oldKey, 'x'))).toThrow(/neither of the ones given/);
  });

  it('refuses a value whose authentication tag was cut short', () => {
    const box = new SecretBox(newKey);
    const [v, id, iv, tag, data] = box.seal('https://hooks.example.com/T0/B0/secret').split(':');
    // GCM checks as many tag bytes as it is given: four bytes would be 2^32 guesses to forge.
    const short = Buffer.from(tag!, 'base64').subarray(0, 4).toString('base64');
    expect(() => box.open([v, id, iv, short, data].join(':'))).toThrow();
  });
});
