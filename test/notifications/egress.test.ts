import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelBody } from '../helpers/channel-samples.js';
import { CHANNEL_TYPES } from '../../src/channels/registry.js';
import { DIALECTS } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, startReceiver } from '../helpers/receiver.js';

/** A bare TCP listener that only counts connections (and closes them). */
async function tcpCounter(host: string, port = 0) {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.each(DIALECTS)('egress guard end to end (%s)', (dialect) => {
  let t: TestServer;
  let only2: TestServer;
  beforeAll(async () => {
    [t, only2] = await Promise.all([
      startTestServer(dialect, {
        env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_RETRY_SCALE: '0.005' },
      }),
      startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.2' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), only2?.close()]);
  });

  const channelsOf = async (s: TestServer) =>
    (await s.api('GET', `/api/v1/organizations/${s.organizationId}/notification-channels`)).body.items;
  const rowCount = async (s: TestServer) =>
    Number(
      (
        await s.server.ctx.db.kysely
          .selectFrom('notification_channels')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it.each([
    'http://127.0.0.2:PORT/secret-token-1234',
    'http://[::1]:PORT/secret-token-1234',
    'http://[::ffff:127.0.0.2]:PORT/secret-token-1234',
    'http://2130706434:PORT/secret-token-1234',
    'http://0.0.0.0:PORT/secret-token-1234',
  ])('refuses %s at save with a 400 naming url, and stores nothing', async (template) => {
    const listener = await tcpCounter('127.0.0.1');
    try {
      const url = template.replace('PORT', String(listener.port));
      const before = await rowCount(t);
      // Every type: none of them may be pointed at a refused address.
      for (const { type, urlFromConfig } of CHANNEL_TYPES) {
        const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
          body: channelBody(type, url),
        });
        // The field that holds the address: the URL, or the settings it is made from (e-mail).
        const field = urlFromConfig ? 'config' : 'url';
        expect(res.status, `${type}: ${JSON.stringify(res.body)}`).toBe(400);
        expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
        expect(res.body.error.details).toEqual([{ field, message: res.body.error.message }]);
        expect(res.body.error.message).toMatch(/LOADNOTIFY_EGRESS_ALLOW/);
        expect(JSON.stringify(res.body)).not.toContain('secret-token');
      }
      expect(await rowCount(t)).toBe(before);

      // Nor can an existing channel be pointed there: the PATCH is refused and the URL kept.
      const ok = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'fine', url: `http://127.0.0.1:${listener.port}/hook` },
      });
      expect(ok.status).toBe(201);
      const patched = await t.api('PATCH', `/api/v1/notification-channels/${ok.body.id}`, { body: { url } });
      expect(patched.status).toBe(400);
      expect(JSON.stringify(patched.body.error)).toContain('url');
      const after = await t.api('GET', `/api/v1/notification-channels/${ok.body.id}`);
      expect(after.body.url).toBe(ok.body.url);
      await t.api('DELETE', `/api/v1/notification-channels/${ok.body.id}`);
      expect(listener.connections).toBe(0);
    } finally {
      await listener.close();
    }
  });

  it('refuses at connect time the addresses a host name resolves to, and connects to none of them', async () => {
    const v4 = await tcpCounter('127.0.0.1');
    const v6 = await tcpCounter('::1', v4.port).catch(() => null);
    try {
      const created = await only2.api(
        'POST',
        `/api/v1/organizations/${only2.organizationId}/notification-channels`,
        {
          body: { type: 'webhook', name: 'localhost', url: `http://localhost:${v4.port}/secret-token-5678` },
        },
      );
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const hook = await only2.api('POST', `/api/v1/notification-channels/${created.body.id}/test`);
      expect(hook.status).toBe(200);
      expect(hook.body.outcome).toBe('failed');
      expect(hook.body.reason).toMatch(/localhost resolved to (127\.0\.0\.1|::1)/);
      expect(hook.body.reason).toMatch(/loopback/);
      // The URL is a secret: the reason names the host, never the path.
      expect(JSON.stringify(hook.body)).not.toContain('secret-token');
      expect(hook.body.attempt).toMatchObject({ number: 1, response_status: null, outcome: 'permanent' });
      const detail = await only2.api('GET', `/api/v1/deliveries/${hook.body.delivery.id}`);
      expect(detail.body.state).toBe('failed');
      expect(detail.body.attempts).toHaveLength(1);
      await new Promise((res) => setTimeout(res, 100));
      expect(v4.connections).toBe(0);
      if (v6) expect(v6.connections).toBe(0);
      await only2.api('DELETE', `/api/v1/notification-channels/${created.body.id}`);
    } finally {
      await Promise.all([v4.close(), v6?.close()]);
    }
  });

  it('does not follow redirects: the attempt records the 302 and the delivery is retried, not delivered', async () => {
    const target = await startReceiver();
    const redirecting = await startReceiver(() => ({
      status: 302,
      headers: { location: target.url('/elsewhere') },
      body: '',
    }));
    try {
      const created = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'redirect', url: redirecting.url() },
      });
      expect(created.status).toBe(201);
      const hook = await t.api('POST', `/api/v1/notification-channels/${created.body.id}/test`);
      expect(hook.body.outcome).toBe('failed');
      expect(hook.body.attempt).toMatchObject({ number: 1, response_status: 302, outcome: 'retry' });
      // Retries happen (scaled down) and keep getting the 302; none goes to the Location.
      await redirecting.waitFor(2, 5000);
      const detail = await eventually(async () => {
        const d = await t.api('GET', `/api/v1/deliveries/${hook.body.delivery.id}`);
        return d.body.attempts.length >= 2 && d.body.attempts.every((a: any) => a.outcome !== null)
          ? d.body
          : undefined;
      });
      expect(detail.state).not.toBe('delivered');
      expect(detail.state).toBe('pending');
      expect(detail.attempts.every((a: any) => a.response_status === 302 && a.outcome === 'retry')).toBe(
        true,
      );
      await t.api('DELETE', `/api/v1/notification-channels/${created.body.id}`);
      expect(target.requests).toHaveLength(0);
      expect(target.connections).toBe(0);
      expect(await channelsOf(t)).toHaveLength(0);
    } finally {
      await Promise.all([target.close(), redirecting.close()]);
    }
  });
});
