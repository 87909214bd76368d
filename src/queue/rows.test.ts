import { describe, expect, it } from 'vitest';
import { DELIVERY_COLUMNS, deliveryValues, newWebhookId, pendingDelivery } from './rows.js';

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

describe('deliveryValues', () => {
  it('gives each column of DELIVERY_COLUMNS its own field, in order', () => {
    // Every field a different value, so a swapped or missing column shows.
    const row = {
      ...pendingDelivery(
        {
          event_id: 1,
          channel_id: 2,
          organization_id: 3,
          run_id: 4,
          event_type: 'test.started',
          webhook_id: 'msg_x',
          redelivery_of: 5,
        },
        6,
        { until: 7, owner: 'w_me' },
      ),
      attempts: 8,
      last_error: 'no',
      created_at: 9,
      updated_at: 10,
    };
    expect(deliveryValues(row)).toEqual(DELIVERY_COLUMNS.map(([name]) => row[name]));
    expect(new Set(deliveryValues(row)).size).toBe(DELIVERY_COLUMNS.length);
  });
});
