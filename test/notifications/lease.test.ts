import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/receiver.js';

/** A receiver that answers 200 only after `delayMs`, counting the requests it gets. */
async function slowReceiver(delayMs: number) {
  const arrivals: number[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(Date.now());
      setTimeout(() => res.end('ok'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(DIALECTS)('a send outliving its lease (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_DELIVERY_TIMEOUT_MS: '3000' },
      // The configuration refuses a lease shorter than the delivery timeout; this simulates a
      // send stalled past its lease (a paused process), which the engine must still not repeat.
      configOverride: { leaseMs: 200 },
    });
  });
  afterAll(() => t?.close());

  it('is not sent again by the same engine while it is still in flight', async () => {
    const r = await slowReceiver(1000);
    try {
      const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'slow', url: r.url },
      });
      expect(c.status).toBe(201);
      const hook = await t.api('POST', `/api/v1/notification-channels/${c.body.id}/test`);
      expect(hook.body.outcome).toBe('delivered');
      const d = await eventually(async () => {
        const got = await t.api('GET', `/api/v1/deliveries/${hook.body.delivery.id}`);
        return got.body.state === 'pending' ? undefined : got.body;
      });
      await new Promise((res) => setTimeout(res, 300));
      expect(r.arrivals).toHaveLength(1);
      expect(d.state).toBe('delivered');
      expect(d.attempts.map((a: any) => [a.number, a.outcome])).toEqual([[1, 'delivered']]);
    } finally {
      await r.close();
    }
  });
});

describe.each(DIALECTS)('a delivery that waits here for a slot past half its lease (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    // One slot per channel, a receiver that answers after 2.1 s, a lease of 4 s: the second of
    // two runs' starts waits at least 2.1 s for the slot, past half its lease. The timeout
    // leaves the receiver 1.4 s to spare on a busy machine.
    t = await startTestServer(dialect, {
      env: {
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        LOADNOTIFY_DELIVERY_TIMEOUT_MS: '3500',
        LOADNOTIFY_LEASE_MS: '4000',
        LOADNOTIFY_PER_CHANNEL: '1',
      },
    });
  });
  afterAll(() => t?.close());

  it('is given back to claims unsent, and goes out as its first attempt', async () => {
    const r = await slowReceiver(2100);
    try {
      const { loadTestId } = await seedLoadTest(t);
      const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'slow', url: r.url },
      });
      expect(c.status).toBe(201);
      const runs = [];
      for (let i = 0; i < 2; i++)
        runs.push((await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} })).body.id);
      for (const id of runs)
        expect(
          (await t.api('POST', `/api/v1/runs/${id}/status`, { body: { status: 'running' } })).status,
        ).toBe(200);
      for (const id of runs) {
        const [item] = (await t.api('GET', `/api/v1/runs/${id}/deliveries`)).body.items;
        const d = await eventually(async () => {
          const got = await t.api('GET', `/api/v1/deliveries/${item.id}`);
          return got.body.state === 'delivered' ? got.body : undefined;
        }, 15_000);
        // Not an attempt cut short and counted, then a second: the unsent one was taken back.
        expect(d.attempts.map((a: any) => [a.number, a.outcome])).toEqual([[1, 'delivered']]);
      }
      expect(r.arrivals).toHaveLength(2);
    } finally {
      await r.close();
    }
  });
});
