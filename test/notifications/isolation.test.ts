import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver } from '../helpers/receiver.js';

const RUNS = 10;
/** Hung sends give up after 8 s: well after each test has looked. */
const HANGING = {
  LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
  LOADNOTIFY_DELIVERY_TIMEOUT_MS: '8000',
  LOADNOTIFY_LEASE_MS: '20000',
};

describe.each(DIALECTS)('a dead receiver does not hold up the others (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: HANGING });
  });
  afterAll(() => t.close());

  it('delivers every event to a healthy channel while another channel hangs, with the hung one capped', async () => {
    const dead = await startReceiver(() => 'hang');
    const healthy = await startReceiver();
    try {
      const { loadTestId } = await seedLoadTest(t);
      for (const [name, r] of [
        ['dead', dead],
        ['healthy', healthy],
      ] as const) {
        const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
          body: { type: 'webhook', name, url: r.url() },
        });
        expect(c.status).toBe(201);
      }
      await Promise.all(
        Array.from({ length: RUNS }, async () => {
          const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
          await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
          await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'finished' } });
        }),
      );
      // Every event reaches the healthy channel while the dead one's first sends still hang
      // (they only give up after the 8 s delivery timeout).
      await healthy.waitFor(2 * RUNS, 7000);
      // None of the dead channel's deliveries has ended (attempts are logged as they end); the
      // ones on their way hold their leases.
      const deadDeliveries = await t.server.ctx.db.kysely
        .selectFrom('deliveries')
        .innerJoin('notification_channels', 'notification_channels.id', 'deliveries.channel_id')
        .leftJoin('delivery_attempts', 'delivery_attempts.delivery_id', 'deliveries.id')
        .select(['deliveries.state', 'deliveries.lease_until', 'delivery_attempts.id as attempt'])
        .where('notification_channels.name', '=', 'dead')
        .execute();
      expect(deadDeliveries.every((d) => d.state === 'pending' && d.attempt === null)).toBe(true);
      expect(
        deadDeliveries.filter((d) => d.lease_until !== null && d.lease_until > Date.now()).length,
      ).toBeGreaterThan(0);
      const events = healthy.requests.map((q) => JSON.parse(q.body).event);
      expect(events.filter((e) => e === 'test.started')).toHaveLength(RUNS);
      expect(events.filter((e) => e === 'test.finished')).toHaveLength(RUNS);
      // The dead channel holds at most its per-channel share of sends (4), never the whole pool.
      expect(dead.requests.length).toBeGreaterThan(0);
      expect(dead.requests.length).toBeLessThanOrEqual(4);
    } finally {
      await Promise.all([dead.close(), healthy.close()]);
    }
  });

  it('keeps a healthy channel flowing while two channels on the same host hang', async () => {
    // One receiver, three paths: what the channels share is the host, and so the connections.
    // Two hung channels hold 4 sends each (8 in all), which was every connection a host got.
    const host = await startReceiver((_n, req) => (req.url.startsWith('/hung') ? 'hang' : { status: 200 }));
    try {
      const { loadTestId } = await seedLoadTest(t);
      for (const path of ['/hung-1', '/hung-2', '/ok']) {
        const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
          body: { type: 'webhook', name: `same host ${path}`, url: host.url(path) },
        });
        expect(c.status).toBe(201);
      }
      const hungSends = () => host.requests.filter((q) => q.url.startsWith('/hung')).length;
      const runs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
        runs.push(run.body.id as number);
      }
      for (const id of runs.slice(0, 4))
        await t.api('POST', `/api/v1/runs/${id}/status`, { body: { status: 'running' } });
      const deadline = Date.now() + 5000;
      while (hungSends() < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(hungSends()).toBe(8);
      // Every send to the hung paths is still open (the delivery timeout is 8 s): the next
      // event must still reach the healthy path well before any of them gives up.
      await t.api('POST', `/api/v1/runs/${runs[4]}/status`, { body: { status: 'running' } });
      const okRuns = () =>
        host.requests
          .filter((q) => q.url === '/ok')
          .map((q) => JSON.parse(q.body).load_test_run_id as number);
      const okDeadline = Date.now() + 3000;
      while (!okRuns().includes(runs[4]!) && Date.now() < okDeadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(okRuns()).toContain(runs[4]);
    } finally {
      await host.close();
    }
  });
});

describe.each(DIALECTS)('the per-channel bound set by LOADNOTIFY_PER_CHANNEL (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { ...HANGING, LOADNOTIFY_PER_CHANNEL: '2' } });
  });
  afterAll(() => t.close());

  it('holds a dead receiver to 2 sends at once', async () => {
    const dead = await startReceiver(() => 'hang');
    try {
      const { loadTestId } = await seedLoadTest(t);
      const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'dead', url: dead.url() },
      });
      expect(c.status).toBe(201);
      for (let i = 0; i < 6; i++) {
        const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
        await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
      }
      await dead.waitFor(2, 3000);
      // Time for more to arrive if the bound were the default 4; the hung ones last 8 s.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(dead.requests).toHaveLength(2);
    } finally {
      await dead.close();
    }
  });
});
