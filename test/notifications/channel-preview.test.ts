import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { addMember, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { CHANNEL_TYPES } from '../../src/channels/registry.js';
import { SAMPLE_CONFIG } from '../helpers/channel-samples.js';

describe.each(DIALECTS)('channel preview (%s)', (dialect) => {
  let t: TestServer;
  let r: Receiver;
  let member: string;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    r = await startReceiver();
    member = (await addMember(t, 'member@example.com', 'member')).token;
  });
  afterAll(async () => {
    await r?.close();
    await t?.close();
  });

  const orgPath = () => `/api/v1/organizations/${t.organizationId}/notification-channels/preview`;
  const counts = async () => {
    const db = t.server.ctx.db.kysely;
    const n = async (table: 'notification_channels' | 'deliveries' | 'events') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return [await n('notification_channels'), await n('deliveries'), await n('events')];
  };

  it('renders a templated webhook for a sample finished run, redacted, saving and sending nothing', async () => {
    const before = await counts();
    const res = await t.api('POST', orgPath(), {
      body: {
        type: 'webhook',
        url: r.url('/hooks/secret-token-0123456789-abcd'),
        config: { template: '{"text": "{{ name }} #{{ load_test_run_id }} {{ status_text }}"}' },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      event: 'test.finished',
      method: 'POST',
      url: `http://127.0.0.1:${r.port}/hooks/****abcd`,
      body: '{"text": "Checkout #42 Finished"}',
    });
    expect(res.body.headers).toMatchObject({
      'Content-Type': 'application/json',
      'X-LoadImpact-Event': 'test.finished',
      'webhook-id': 'msg_preview',
      'webhook-signature': 'v1,<signed at delivery with the channel signing secret>',
    });
    expect(JSON.stringify(res.body)).not.toContain('secret-token');
    expect(await counts()).toEqual(before);
    expect(r.requests).toHaveLength(0);
  });

  it.each(CHANNEL_TYPES.map((c) => c.type))(
    'renders every event for the %s type without sending',
    async (type) => {
      expect(SAMPLE_CONFIG, `add a sample config for ${type}`).toHaveProperty(type);
      const channelType = CHANNEL_TYPES.find((c) => c.type === type)!;
      const addressed = channelType.urlFromConfig || channelType.defaultUrl;
      // A type that is never sent starts (PagerDuty) previews only what it can send.
      const events = ['test.started', 'test.finished', 'test.notification_channel'].filter(
        (e) => e !== 'test.started' || channelType.defaultEvents?.['test.started'].enabled !== false,
      );
      for (const event of events) {
        const res = await t.api('POST', orgPath(), {
          body: {
            type,
            ...(addressed ? {} : { url: r.url(`/${type}/token-wxyz`) }),
            config: SAMPLE_CONFIG[type],
            event,
          },
        });
        expect(res.status, `${event}: ${JSON.stringify(res.body)}`).toBe(200);
        expect(res.body.event).toBe(event);
        expect(typeof res.body.body).toBe('string');
        expect(JSON.stringify(res.body)).not.toContain('token-wxyz');
        // Write-only settings stay so, even where the type sends them in the body.
        for (const secret of channelType.config?.secret ?? [])
          if (typeof SAMPLE_CONFIG[type]![secret] === 'string')
            expect(JSON.stringify(res.body)).not.toContain(SAMPLE_CONFIG[type]![secret]);
      }
      expect(r.requests).toHaveLength(0);
    },
  );

  it('takes the event to render, and the documented body by default', async () => {
    const started = await t.api('POST', orgPath(), {
      body: { type: 'webhook', url: r.url(), status_scheme: 'loadimpact-v3', event: 'test.started' },
    });
    expect(JSON.parse(started.body.body)).toMatchObject({
      status: 2,
      status_text: 'Running',
      event: 'test.started',
    });
    const hook = await t.api('POST', orgPath(), {
      body: { type: 'webhook', url: r.url(), event: 'test.notification_channel' },
    });
    expect(hook.body.body).toBe('{"event":"test.notification_channel"}');
  });

  it.each([
    ['slack', '/services/T0/B0/xyz', /Checkout/],
    ['hipchat', '/v2/room/1/notification?auth_token=abc', /Checkout/],
  ])('renders %s channels with their own render', async (type, path, pattern) => {
    const res = await t.api('POST', orgPath(), { body: { type, url: r.url(path) } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.body).toMatch(pattern);
    expect(res.body.headers['webhook-signature']).toBeUndefined();
  });

  it('gives the same validation errors as create', async () => {
    const bad = await t.api('POST', orgPath(), {
      body: { type: 'webhook', url: r.url(), config: { template: 'ok\n{{ x | nope }}' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('config.template: line 2: undefined filter: nope');
    const noUrl = await t.api('POST', orgPath(), { body: { type: 'webhook' } });
    expect(noUrl.status).toBe(400);
    expect(noUrl.body.error.details[0].field).toBe('url');
    const render = await t.api('POST', orgPath(), {
      body: {
        type: 'webhook',
        url: r.url(),
        config: { template: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' },
      },
    });
    expect(render.status).toBe(422);
    expect(render.body.error).toMatchObject({
      code: 'render_failed',
      message: expect.stringMatching(/limit exceeded/),
    });
  });

  it('is for owners and admins; the plain path takes the organization in the body', async () => {
    const body = { type: 'webhook', url: r.url() };
    expect((await t.api('POST', orgPath(), { token: member, body })).status).toBe(403);
    const plain = await t.api('POST', '/api/v1/notification-channels/preview', {
      body: { ...body, organization_id: t.organizationId },
    });
    expect(plain.status).toBe(200);
    expect(
      (
        await t.api('POST', '/api/v1/notification-channels/preview', {
          token: member,
          body: { ...body, organization_id: t.organizationId },
        })
      ).status,
    ).toBe(403);
    const missing = await t.api('POST', '/api/v1/notification-channels/preview', { body });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details[0].field).toBe('organization_id');
  });

  it('previews unsaved edits of a saved channel with its saved URL', async () => {
    const created = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'webhook',
        name: 'saved',
        url: r.url('/saved-wxyz'),
        config: { payload_version: 'extended' },
      },
    });
    const res = await t.api('POST', '/api/v1/notification-channels/preview', {
      body: { channel_id: created.body.id, config: { template: '{{ payload_version }}{{ project_name }}' } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.url).toBe(created.body.url);
    expect(res.body.body).toBe('Shop');
    await t.api('DELETE', `/api/v1/notification-channels/${created.body.id}`);
  });
});
