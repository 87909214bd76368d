import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/index.js';
import { DIALECTS } from '../helpers/db.js';
import { addMember, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Received, type Receiver } from '../helpers/receiver.js';

/** What a receiver written against the standardwebhooks package does with a request. */
const theirVerify = (secret: string, req: Received) =>
  new Webhook(secret).verify(req.body, req.headers as Record<string, string>);

describe.each(DIALECTS)('signed webhooks (%s)', (dialect) => {
  let t: TestServer;
  let r: Receiver;
  let member: string;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    member = (await addMember(t, 'member@example.com', 'member')).token;
  });
  afterEach(async () => {
    await r?.close();
  });
  afterAll(() => t.close());

  const create = async (body: Record<string, unknown> = {}) => {
    r = await startReceiver(() => ({ status: 204 }));
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'signed', url: r.url(), ...body },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const testHook = async (id: number) => {
    const before = r.requests.length;
    const res = await t.api('POST', `/api/v1/notification-channels/${id}/test`);
    expect(res.body.outcome).toBe('delivered');
    return (await r.waitFor(before + 1))[before]!;
  };
  const rotate = (id: number, token?: string) =>
    t.api('POST', `/api/v1/notification-channels/${id}/signing-secret`, { token });
  const row = (id: number) =>
    t.server.ctx.db.kysely
      .selectFrom('notification_channels')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();

  it('creates a secret shown once, seals it, and signs what any Standard Webhooks library verifies', async () => {
    const c = await create();
    const secret: string = c.signing_secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(c.signing).toMatchObject({ enabled: true, previous_expires_at: null });
    expect(Date.parse(c.signing.created_at)).toBeGreaterThan(Date.now() - 60_000);

    const shown = await t.api('GET', `/api/v1/notification-channels/${c.id}`);
    expect(shown.body.signing).toEqual(c.signing);
    expect(JSON.stringify(shown.body)).not.toContain(secret.slice(6, 20));
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    expect(JSON.stringify(list.body)).not.toContain(secret.slice(6, 20));
    expect(JSON.stringify(await row(c.id))).not.toContain(secret.slice(6, 20));

    const req = await testHook(c.id);
    expect(req.body).toBe('{"event":"test.notification_channel"}');
    expect(Number(req.headers['webhook-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(req.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(theirVerify(secret, req)).toEqual({ event: 'test.notification_channel' });
    expect(verifyWebhook(secret, req.headers, req.body).id).toBe(req.headers['webhook-id']);
  });

  it('rotates with a 24-hour overlap in which both secrets sign, then only the new one', async () => {
    const c = await create();
    const old: string = c.signing_secret;
    expect((await rotate(c.id, member)).status).toBe(403);

    const rotated = await rotate(c.id);
    expect(rotated.status).toBe(200);
    const fresh: string = rotated.body.secret;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    const expires = Date.parse(rotated.body.signing.previous_expires_at);
    expect(Math.abs(expires - (Date.now() + 24 * 3600_000))).toBeLessThan(60_000);
    expect((await t.api('GET', `/api/v1/notification-channels/${c.id}`)).body.signing).toEqual(
      rotated.body.signing,
    );

    const during = await testHook(c.id);
    expect(during.headers['webhook-signature']!.toString().split(' ')).toHaveLength(2);
    for (const secret of [old, fresh]) {
      expect(theirVerify(secret, during)).toEqual({ event: 'test.notification_channel' });
      expect(() => verifyWebhook(secret, during.headers, during.body)).not.toThrow();
    }

    // A day later: the old secret has stopped signing.
    await t.server.ctx.db.kysely
      .updateTable('notification_channels')
      .set({ signing_previous_expires_at: Date.now() - 1 })
      .where('id', '=', c.id)
      .execute();
    const after = await testHook(c.id);
    expect(after.headers['webhook-signature']!.toString().split(' ')).toHaveLength(1);
    expect(theirVerify(fresh, after)).toBeTruthy();
    expect(() => theirVerify(old, after)).toThrow(/No matching signature/);
    expect(() => verifyWebhook(old, after.headers, after.body)).toThrow(/no v1 signature/);
  });

  it('sends unsigned after the secret is removed, and signs again with a new one', async () => {
    const c = await create();
    expect(
      (await t.api('DELETE', `/api/v1/notification-channels/${c.id}/signing-secret`, { token: member }))
        .status,
    ).toBe(403);
    expect((await t.api('DELETE', `/api/v1/notification-channels/${c.id}/signing-secret`)).status).toBe(204);
    const shown = await t.api('GET', `/api/v1/notification-channels/${c.id}`);
    expect(shown.body.signing).toEqual({ enabled: false, created_at: null, previous_expires_at: null });
    const unsigned = await testHook(c.id);
    expect(unsigned.headers['webhook-id']).toMatch(/^msg_/);
    expect(unsigned.headers['webhook-timestamp']).toBeUndefined();
    expect(unsigned.headers['webhook-signature']).toBeUndefined();

    const again = await rotate(c.id);
    expect(again.body.signing).toMatchObject({ enabled: true, previous_expires_at: null });
    const signed = await testHook(c.id);
    expect(signed.headers['webhook-signature']!.toString().split(' ')).toHaveLength(1);
    expect(theirVerify(again.body.secret, signed)).toBeTruthy();
  });

  it('gives channel types that do not sign neither a secret nor the endpoints', async () => {
    r = await startReceiver();
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'slack', name: 'chat', url: r.url('/services/T0/B0/x') },
    });
    expect(res.status).toBe(201);
    expect(res.body.signing_secret).toBeUndefined();
    expect(res.body.signing.enabled).toBe(false);
    const refused = await rotate(res.body.id);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('not_signable');
  });
});
