import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of issue #17 (templates cannot stall the service): the template pool is one pool of
 * two workers for every organization, with a FIFO queue of 1,000 and a 5 s queue wait. An admin
 * of one organization who keeps a dozen hostile previews in flight (each holds a worker for its
 * full 500 ms) makes every other organization's templated previews, Test Hooks and deliveries
 * wait behind them, then fail with 503 / retry. Secure: another tenant's fair render is served
 * promptly however busy one tenant keeps the pool.
 */
const HOSTILE =
  '{% assign r = (1..100) %}{% for a in r %}{% for b in r %}{% for c in r %}{% for d in r %}' +
  '{% endfor %}{% endfor %}{% endfor %}{% endfor %}x';

describe('one tenant cannot starve the template workers of every other (sqlite)', () => {
  let t: TestServer;
  let attacker: string;
  let attackerOrg: number;
  beforeAll(async () => {
    t = await startTestServer('sqlite');
    attackerOrg = (await t.api('POST', '/api/v1/organizations', { body: { name: 'Attacker' } })).body.id;
    attacker = (await addMember(t, 'mallory@example.com', 'admin', attackerOrg)).token;
    // Warm the pool (the worker's code is transpiled on first use).
    expect((await fair()).status).toBe(200);
  });
  afterAll(() => t.close());

  const previewIn = (orgId: number, template: string, token?: string) =>
    t.api('POST', `/api/v1/organizations/${orgId}/notification-channels/preview`, {
      token,
      body: { type: 'webhook', url: 'https://hooks.example.com/x', config: { template } },
    });
  const fair = () => previewIn(t.organizationId, '{{ event }}');

  it("another organization's fair preview answers 200 within 2 s while one admin floods the pool", async () => {
    let stop = false;
    const flood = async () => {
      while (!stop) await previewIn(attackerOrg, HOSTILE, attacker);
    };
    const floods = Array.from({ length: 16 }, flood);
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = performance.now();
    const res = await fair();
    const ms = Math.round(performance.now() - t0);
    stop = true;
    await Promise.all(floods);
    console.log(`victim preview: ${res.status} in ${ms} ms`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(ms).toBeLessThan(2000);
  }, 60_000);
});
