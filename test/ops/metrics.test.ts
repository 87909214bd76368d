import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { MAX_ATTEMPTS } from '../../src/core/backoff.js';

/** The value of one sample in Prometheus text, or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe.each(DIALECTS)('metrics (%s)', (dialect) => {
  let t: TestServer;
  let r: Receiver;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    r = await startReceiver(() => ({ status: 204 }));
  });
  afterAll(async () => {
    await r.close();
    await t.close();
  });

  const scrape = async () => {
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.text();
  };

  it('counts a Test Hook delivery, its attempt time, the queue and the HTTP requests by route pattern', async () => {
    const created = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', url: r.url() },
    });
    expect(created.status).toBe(201);
    const hook = await t.api('POST', `/api/v1/notification-channels/${created.body.id}/test`);
    expect(hook.body.outcome).toBe('delivered');

    const text = await eventually(async () => {
      const body = await scrape();
      return sample(body, 'loadnotify_deliveries_total', {
        channel_type: 'webhook',
        outcome: 'delivered',
      }) === 1
        ? body
        : undefined;
    });
    expect(sample(text, 'loadnotify_delivery_attempt_seconds_count', { channel_type: 'webhook' })).toBe(1);
    expect(sample(text, 'loadnotify_delivery_queue_depth')).toBe(0);
    expect(sample(text, 'loadnotify_delivery_oldest_pending_seconds')).toBe(0);
    expect(sample(text, 'loadnotify_channels_disabled')).toBe(0);
    expect(sample(text, 'loadnotify_events_recorded')).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'loadnotify_http_requests_total', {
        method: 'POST',
        route: '/api/v1/notification-channels/:id/test',
        status: '200',
      }),
    ).toBe(1);
    expect(
      sample(text, 'loadnotify_http_requests_total', {
        method: 'POST',
        route: '/api/v1/organizations/:id/notification-channels',
        status: '201',
      }),
    ).toBe(1);
    expect(
      sample(text, 'loadnotify_http_request_seconds_count', {
        method: 'POST',
        route: '/api/v1/notification-channels/:id/test',
      }),
    ).toBe(1);
    // Never the raw URL: no series names the channel's id.
    expect(text).not.toContain(`/notification-channels/${created.body.id}/test`);
    // prom-client's default process metrics are there too.
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
  });

  it('labels unknown paths without their URL', async () => {
    expect((await t.api('GET', '/api/v1/no-such-thing/12345')).status).toBe(404);
    // scrape() sends no token: /metrics needs no sign-in.
    const text = await scrape();
    expect(sample(text, 'loadnotify_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    expect(text).not.toContain('no-such-thing');
  });

  it('is left out of the OpenAPI document', async () => {
    const doc = await t.api('GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).not.toContain('/metrics');
  });

  it('counts retries, permanent failures and giving up by outcome', async () => {
    const db = t.server.ctx.db.kysely;
    const failing = await startReceiver((_n, req) =>
      req.url === '/gone' ? { status: 410 } : { status: 503 },
    );
    try {
      const make = async (path: string) =>
        (
          await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
            body: { type: 'webhook', name: path, url: failing.url(path) },
          })
        ).body.id as number;
      const busy = await make('/busy');
      const gone = await make('/gone');
      const event = await db.selectFrom('events').select('id').executeTakeFirstOrThrow();
      const queue = (channelId: number, attempts: number) =>
        db
          .insertInto('deliveries')
          .values({
            event_id: event.id,
            channel_id: channelId,
            organization_id: t.organizationId,
            run_id: null,
            event_type: 'test.started',
            webhook_id: `msg_${channelId}_${attempts}`,
            redelivery_of: null,
            state: 'pending',
            attempts,
            next_attempt_at: Date.now(),
            lease_until: null,
            lease_owner: null,
            last_error: null,
            created_at: Date.now(),
            updated_at: Date.now(),
          })
          .execute();
      // One retry (first attempt of 34), one give-up (the last attempt), one permanent (410).
      await queue(busy, MAX_ATTEMPTS - 1);
      await queue(gone, 0);
      t.server.engine!.wake();
      const text = await eventually(async () => {
        const body = await scrape();
        const n = (outcome: string) =>
          sample(body, 'loadnotify_deliveries_total', { channel_type: 'webhook', outcome }) ?? 0;
        return n('gave_up') === 1 && n('permanent') === 1 ? body : undefined;
      });
      expect(
        sample(text, 'loadnotify_deliveries_total', { channel_type: 'webhook', outcome: 'delivered' }),
      ).toBe(1);
      await queue(busy, 0);
      t.server.engine!.wake();
      await eventually(async () =>
        sample(await scrape(), 'loadnotify_deliveries_total', {
          channel_type: 'webhook',
          outcome: 'retry',
        }) === 1
          ? true
          : undefined,
      );
      // Keep the retried delivery from being sent again while later tests look at the queue.
      await db.deleteFrom('deliveries').where('state', '=', 'pending').execute();
      const attempts = await scrape();
      expect(sample(attempts, 'loadnotify_delivery_attempt_seconds_count', { channel_type: 'webhook' })).toBe(
        4,
      );
    } finally {
      await failing.close();
    }
  });

  it('reports pending deliveries and disabled channels from the database', async () => {
    const db = t.server.ctx.db.kysely;
    const channel = await db
      .selectFrom('notification_channels')
      .select(['id', 'organization_id'])
      .executeTakeFirstOrThrow();
    const event = await db.selectFrom('events').select('id').executeTakeFirstOrThrow();
    const at = Date.now() - 120_000;
    // Due far in the future, so the engine leaves it alone while we look.
    await db
      .insertInto('deliveries')
      .values({
        event_id: event.id,
        channel_id: channel.id,
        organization_id: channel.organization_id,
        run_id: null,
        event_type: 'test.started',
        webhook_id: 'msg_metrics',
        redelivery_of: null,
        state: 'pending',
        attempts: 0,
        next_attempt_at: Date.now() + 3_600_000,
        lease_until: null,
        lease_owner: null,
        last_error: null,
        created_at: at,
        updated_at: at,
      })
      .execute();
    await db.updateTable('notification_channels').set({ enabled: 0 }).where('id', '=', channel.id).execute();
    const text = await scrape();
    expect(sample(text, 'loadnotify_delivery_queue_depth')).toBe(1);
    expect(sample(text, 'loadnotify_delivery_oldest_pending_seconds')).toBeGreaterThanOrEqual(120);
    expect(sample(text, 'loadnotify_channels_disabled')).toBe(1);
  });
});
