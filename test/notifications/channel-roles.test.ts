import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { addMember, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';

describe.each(DIALECTS)('notification channels: roles and bad input (%s)', (dialect) => {
  let t: TestServer;
  let r: Receiver;
  let admin: string;
  let member: string;
  let stranger: string;
  let otherProjectId: number;
  let projectId: number;

  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    r = await startReceiver(() => ({ status: 204 }));
    ({ projectId } = await seedLoadTest(t));
    admin = (await addMember(t, 'admin@example.com', 'admin')).token;
    member = (await addMember(t, 'member@example.com', 'member')).token;
    // Another organization, with a user who belongs only to it.
    const other = await t.api('POST', '/api/v1/organizations', { body: { name: 'Other' } });
    expect(other.status).toBe(201);
    stranger = (await addMember(t, 'stranger@example.com', 'owner', other.body.id)).token;
    const p = await t.api('POST', `/api/v1/organizations/${other.body.id}/projects`, {
      body: { name: 'Theirs' },
    });
    otherProjectId = p.body.id;
  });
  afterAll(async () => {
    await r?.close();
    await t?.close();
  });

  const base = () => `/api/v1/organizations/${t.organizationId}/notification-channels`;
  const create = (token: string | undefined, body: Record<string, unknown> = {}) =>
    t.api('POST', base(), {
      token,
      body: { type: 'webhook', name: 'hook', url: r.url('/secret-path-0123456789-wxyz'), ...body },
    });
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
    return {
      channels: await n('notification_channels'),
      deliveries: await n('deliveries'),
      events: await n('events'),
    };
  };
  const settled = (token: string, id: number) =>
    eventually(async () => {
      const d = await t.api('GET', `/api/v1/deliveries/${id}`, { token });
      return d.body.state === 'pending' ? undefined : d.body;
    });

  it.each(['owner', 'admin'] as const)(
    '%s can create, edit, test, redeliver and delete channels',
    async (role) => {
      const token = role === 'owner' ? t.ownerToken : admin;
      const created = await create(token, { type: 'slack', name: `${role}'s` });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = created.body.id;
      const edited = await t.api('PATCH', `/api/v1/notification-channels/${id}`, {
        token,
        body: { name: 'renamed', status_scheme: 'loadimpact-v3', project_ids: [projectId] },
      });
      expect(edited.status).toBe(200);
      expect(edited.body).toMatchObject({
        name: 'renamed',
        status_scheme: 'loadimpact-v3',
        project_ids: [projectId],
      });
      const hook = await t.api('POST', `/api/v1/notification-channels/${id}/test`, { token });
      expect(hook.status).toBe(200);
      expect(hook.body.outcome).toBe('delivered');
      const again = await t.api('POST', `/api/v1/deliveries/${hook.body.delivery.id}/redeliver`, { token });
      expect(again.status).toBe(202);
      await settled(token, again.body.id);
      const deleted = await t.api('DELETE', `/api/v1/notification-channels/${id}`, { token });
      expect(deleted.status).toBe(204);
      expect((await t.api('GET', `/api/v1/notification-channels/${id}`, { token })).status).toBe(404);
    },
  );

  it('a member reads channels (URL redacted) and deliveries, and gets 403 for every change', async () => {
    const created = await create(t.ownerToken);
    const id = created.body.id;
    const hook = await t.api('POST', `/api/v1/notification-channels/${id}/test`);
    expect(hook.body.outcome).toBe('delivered');
    const deliveryId = hook.body.delivery.id;

    const list = await t.api('GET', base(), { token: member });
    expect(list.status).toBe(200);
    const shown = list.body.items.find((c: any) => c.id === id);
    expect(shown.url).toBe(`http://127.0.0.1:${r.port}/****wxyz`);
    expect(JSON.stringify(list.body)).not.toContain('secret-path');
    const one = await t.api('GET', `/api/v1/notification-channels/${id}`, { token: member });
    expect(one.status).toBe(200);
    expect(one.body.url).toBe(shown.url);
    const deliveries = await t.api('GET', `/api/v1/notification-channels/${id}/deliveries`, {
      token: member,
    });
    expect(deliveries.status).toBe(200);
    expect(deliveries.body.items.map((d: any) => d.id)).toContain(deliveryId);
    const delivery = await t.api('GET', `/api/v1/deliveries/${deliveryId}`, { token: member });
    expect(delivery.status).toBe(200);
    expect(delivery.body.attempts).toHaveLength(1);
    expect(JSON.stringify(delivery.body)).not.toContain('secret-path');

    const before = await counts();
    const refused = [
      await create(member),
      await t.api('PATCH', `/api/v1/notification-channels/${id}`, { token: member, body: { name: 'mine' } }),
      await t.api('PATCH', `/api/v1/notification-channels/${id}`, {
        token: member,
        body: { enabled: false },
      }),
      await t.api('DELETE', `/api/v1/notification-channels/${id}`, { token: member }),
      await t.api('POST', `/api/v1/notification-channels/${id}/test`, { token: member }),
      await t.api('POST', `/api/v1/deliveries/${deliveryId}/redeliver`, { token: member }),
    ];
    expect(refused.map((res) => res.status)).toEqual([403, 403, 403, 403, 403, 403]);
    for (const res of refused) expect(res.body.error.code).toMatch(/^[a-z_]+$/);
    expect(await counts()).toEqual(before);
    expect(r.requests.filter((q) => q.url === '/secret-path-0123456789-wxyz').length).toBeGreaterThan(0);
    const after = await t.api('GET', `/api/v1/notification-channels/${id}`);
    expect(after.body).toEqual(one.body);
    await t.api('DELETE', `/api/v1/notification-channels/${id}`);
  });

  it("another organization's user gets 404 for a channel, its deliveries and a delivery", async () => {
    const created = await create(t.ownerToken);
    const id = created.body.id;
    const hook = await t.api('POST', `/api/v1/notification-channels/${id}/test`);
    const deliveryId = hook.body.delivery.id;
    const before = await counts();
    const answers = [
      await t.api('GET', `/api/v1/notification-channels/${id}`, { token: stranger }),
      await t.api('GET', `/api/v1/notification-channels/${id}/deliveries`, { token: stranger }),
      await t.api('GET', `/api/v1/deliveries/${deliveryId}`, { token: stranger }),
      await t.api('PATCH', `/api/v1/notification-channels/${id}`, { token: stranger, body: { name: 'x' } }),
      await t.api('DELETE', `/api/v1/notification-channels/${id}`, { token: stranger }),
      await t.api('POST', `/api/v1/notification-channels/${id}/test`, { token: stranger }),
      await t.api('POST', `/api/v1/deliveries/${deliveryId}/redeliver`, { token: stranger }),
    ];
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 404, 404, 404, 404]);
    // The same answer as for an id that does not exist at all.
    const missing = await t.api('GET', `/api/v1/notification-channels/999999`, { token: stranger });
    expect(missing.status).toBe(404);
    expect(answers[0]!.body.error.code).toBe(missing.body.error.code);
    const list = await t.api('GET', base(), { token: stranger });
    expect(list.status).toBe(404);
    expect(await counts()).toEqual(before);
    await t.api('DELETE', `/api/v1/notification-channels/${id}`);
  });

  describe('bad input writes nothing', () => {
    const fieldsOf = (body: any): string =>
      `${body?.error?.message ?? ''} ${JSON.stringify(body?.error?.details ?? null)}`;

    it.each([
      ['unknown type', { type: 'carrier-pigeon' }, 'type'],
      ['bad status_scheme', { status_scheme: 'k7' }, 'status_scheme'],
      ['unknown field in events', { events: { 'test.started': { enabled: true, loud: true } } }, 'loud'],
      ['unknown event', { events: { 'test.paused': { enabled: true } } }, 'test.paused'],
      ['url not a URL', { url: 'not a url' }, 'url'],
      ['url without a scheme', { url: '127.0.0.1/hook' }, 'url'],
      ['project of another organization', { project_ids: 'OTHER' }, 'project_ids'],
      ['no url', { url: undefined }, 'url is required'],
      ['a setting the type does not have', { config: { colour: 'red' } }, 'config.colour'],
      ['a template that does not parse', { config: { template: '{{ name | nope }}' } }, 'config.template'],
      ['config not an object', { config: ['x'] }, 'config'],
    ])('create with %s: 400 naming the field', async (_what, patch, field) => {
      const before = await counts();
      const body = { ...patch } as Record<string, unknown>;
      if (body.project_ids === 'OTHER') body.project_ids = [otherProjectId];
      const res = await create(t.ownerToken, body);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(fieldsOf(res.body)).toContain(field);
      expect(await counts()).toEqual(before);
    });

    it.each([
      ['empty body', {}, null],
      ['bad status_scheme', { status_scheme: 'k7' }, 'status_scheme'],
      ['unknown field', { colour: 'red' }, 'colour'],
      ['unknown field in events', { events: { 'test.finished': { results: ['meh'] } } }, 'results'],
      ['url not a URL', { url: 'not a url' }, 'url'],
      ['project of another organization', { project_ids: 'OTHER' }, 'project_ids'],
      ['a good name beside a bad url', { name: 'renamed', url: 'nope' }, 'url'],
      ['a setting the type does not have', { config: { colour: 'red' } }, 'config.colour'],
      ['a template that does not parse', { config: { template: '{% if %}' } }, 'config.template'],
    ])('PATCH with %s: 400, the channel unchanged', async (_what, patch, field) => {
      const created = await create(t.ownerToken, { name: 'keep me' });
      const stored = () =>
        t.server.ctx.db.kysely
          .selectFrom('notification_channels')
          .selectAll()
          .where('id', '=', created.body.id)
          .executeTakeFirstOrThrow();
      const before = await stored();
      const body = { ...patch } as Record<string, unknown>;
      if (body.project_ids === 'OTHER') body.project_ids = [otherProjectId];
      const res = await t.api('PATCH', `/api/v1/notification-channels/${created.body.id}`, { body });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      if (field) expect(fieldsOf(res.body)).toContain(field);
      // Not even updated_at moves.
      expect(await stored()).toEqual(before);
      await t.api('DELETE', `/api/v1/notification-channels/${created.body.id}`);
    });

    it('malformed JSON is a 400 and writes nothing', async () => {
      const before = await counts();
      const res = await t.api('POST', base(), { rawBody: '{"type": "webhook", "name": ' });
      expect(res.status).toBe(400);
      expect(await counts()).toEqual(before);
    });
  });
});
