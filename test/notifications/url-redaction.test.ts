/**
 * Issue #17, item 10: a redacted URL showed its last four characters, which is the whole
 * secret when the secret is short (`?token=AB`). No character of a secret part shorter than
 * 24 characters is shown now: in the channel, the preview and the attempt log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.each(DIALECTS)('redacted URLs (%s)', (dialect) => {
  let t: TestServer;
  let r: Receiver;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    r = await startReceiver(() => ({ status: 204 }));
  });
  afterAll(async () => {
    await r?.close();
    await t?.close();
  });

  const channels = () => `/api/v1/organizations/${t.organizationId}/notification-channels`;

  it('shows no character of a short token, in the channel, the preview and the attempt log', async () => {
    const url = r.url('/hook?token=AB');
    const shown = `http://127.0.0.1:${r.port}/****`;
    const created = await t.api('POST', channels(), { body: { type: 'webhook', name: 'short', url } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.url).toBe(shown);
    expect((await t.api('GET', `/api/v1/notification-channels/${created.body.id}`)).body.url).toBe(shown);

    const preview = await t.api('POST', `${channels()}/preview`, { body: { type: 'webhook', url } });
    expect(preview.status).toBe(200);
    expect(preview.body.url).toBe(shown);

    const hook = await t.api('POST', `/api/v1/notification-channels/${created.body.id}/test`);
    expect(hook.body.outcome).toBe('delivered');
    expect(hook.body.attempt.request_url).toBe(shown);
    expect(r.requests.at(-1)!.url).toBe('/hook?token=AB');
  });

  it('keeps the last four characters of a long token only', async () => {
    const token = 'a'.repeat(20) + 'WXYZ';
    const created = await t.api('POST', channels(), {
      body: { type: 'webhook', name: 'long', url: r.url(`/hooks/${token}`) },
    });
    expect(created.body.url).toBe(`http://127.0.0.1:${r.port}/hooks/****WXYZ`);
    const shorter = await t.api('PATCH', `/api/v1/notification-channels/${created.body.id}`, {
      body: { url: r.url(`/hooks/${token.slice(1)}`) },
    });
    expect(shorter.body.url).toBe(`http://127.0.0.1:${r.port}/hooks/****`);
  });

  it('shows a channel saved with the old redaction by the new rule', async () => {
    const created = await t.api('POST', channels(), {
      body: { type: 'webhook', name: 'old', url: r.url('/hook?token=AB') },
    });
    // What the old code stored for this URL.
    await t.server.ctx.db.kysely
      .updateTable('notification_channels')
      .set({ url_redacted: `http://127.0.0.1:${r.port}/****AB` })
      .where('id', '=', created.body.id)
      .execute();
    const one = await t.api('GET', `/api/v1/notification-channels/${created.body.id}`);
    expect(one.body.url).toBe(`http://127.0.0.1:${r.port}/****`);
    const list = await t.api('GET', channels());
    expect(JSON.stringify(list.body)).not.toContain('****AB');
  });
});
