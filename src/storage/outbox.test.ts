import { describe, expect, it } from 'vitest';
import { newWebhookId } from './outbox.js';

describe('newWebhookId', () => {
  it('gives msg_ and 128 bits in base64url, never the same twice, across many refills of its pool', () => {
    const ids = Array.from({ length: 5000 }, () => newWebhookId());
    for (const id of ids) expect(id).toMatch(/^msg_[A-Za-z0-9_-]{22}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Every position takes many values: the bytes are not reused or left zero.
    const firsts = new Set(ids.map((id) => id.slice(4, 6)));
    expect(firsts.size).toBeGreaterThan(1000);
  });
});
