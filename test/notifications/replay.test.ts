/**
 * Issue #22, replay: POST /notification-channels/:id/redeliver sends every finished delivery
 * of a time range in the given states again (redeliveries, same webhook-id), counts them first
 * with dry_run, refuses ranges it will not take, and is for owners and admins only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { addMember, runCalls, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(DIALECTS)('replaying a time range (%s)', (dialect) => {
  let t: TestServer;
  let r: Receiver;
  let loadTestId: number;
  let channelId: number;
  let admin: string;
  let member: string;
  let stranger: string;
  let since: string;
  const calls = runCalls(
    () => t,
    () => loadTestId,
  );
  const replay = (body: Record<string, unknown>, token?: string, id = channelId) =>
    t.api('POST', `/api/v1/notification-channels/${id}/redeliver`, { token, body });
  const log = async () =>
    (await t.api('GET', `/api/v1/notification-channels/${channelId}/deliveries`)).body.items as {
      id: number;
      state: string;
      webhook_id: string;
      redelivery_of: number | null;
    }[];
  const later = () => new Date(Date.now() + 60_000).toISOString();

  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    r = await startReceiver(() => ({ status: 204 }));
    ({ loadTestId } = await seedLoadTest(t));
    admin = (await addMember(t, 'admin@example.com', 'admin')).token;
    member = (await addMember(t, 'member@example.com', 'member')).token;
    const other = await t.api('POST', '/api/v1/organizations', { body: { name: 'Other' } });
    stranger = (await addMember(t, 'stranger@example.com', 'owner', other.body.id)).token;
    since = new Date(Date.now() - 1000).toISOString();
    const made = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', url: r.url('/hook') },
    });
    channelId = made.body.id;
    // One delivered start, then a finish skipped while muted.
    const run = await calls.run();
    await calls.move(run.id, { status: 'running' });
    await r.waitFor(1);
    await eventually(async () => ((await log())[0]?.state === 'delivered' ? true : undefined));
    const muted = await t.api('PATCH', `/api/v1/notification-channels/${channelId}`, {
      body: { muted_until: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(muted.status).toBe(200);
    await calls.move(run.id, { status: 'finished', result: 'passed' });
    await t.api('PATCH', `/api/v1/notification-channels/${channelId}`, { body: { muted_until: null } });
    expect((await log()).map((d) => d.state)).toEqual(['skipped', 'delivered']);
  });
  afterAll(async () => {
    await r?.close();
    await t?.close();
  });

  it('dry_run counts what matches and sends nothing; the replay sends it again with the same webhook-id', async () => {
    const none = await replay({ since, until: later(), dry_run: true });
    expect(none.status, JSON.stringify(none.body)).toBe(200);
    expect(none.body).toMatchObject({ dry_run: true, count: 0 }); // nothing failed (given up)
    const counted = await replay({ since, until: later(), states: ['skipped', 'delivered'], dry_run: true });
    expect(counted.body).toMatchObject({ dry_run: true, count: 2 });
    const outside = await replay({
      since: later(),
      until: new Date(Date.now() + 120_000).toISOString(),
      states: ['delivered'],
      dry_run: true,
    });
    expect(outside.body.count).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.requests).toHaveLength(1);

    const before = await log();
    const sent = await replay({ since, until: later(), states: ['skipped', 'delivered'] });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    expect(sent.body.count).toBe(2);
    expect(sent.body.delivery_ids).toHaveLength(2);
    const got = await r.waitFor(3);
    expect(
      got
        .slice(1)
        .map((g) => g.headers['x-loadimpact-event'])
        .sort(),
    ).toEqual(['test.finished', 'test.started']);
    const started = before.find((d) => d.state === 'delivered')!;
    expect(got.slice(1).map((g) => g.headers['webhook-id'])).toContain(started.webhook_id);
    const after = await log();
    const redeliveries = after.filter((d) => sent.body.delivery_ids.includes(d.id));
    expect(redeliveries.map((d) => d.redelivery_of).sort()).toEqual(before.map((d) => d.id).sort());
  });

  it('refuses ranges and states it will not take, with a 400 naming the field', async () => {
    const now = Date.now();
    const cases: [Record<string, unknown>, string, string][] = [
      [{ since: later(), until: since }, 'until', 'after since'],
      [{ since: new Date(now - 40 * 86_400_000).toISOString(), until: later() }, 'until', '31 days'],
      [{ until: later() }, 'since', 'since'],
      [{ since: 'yesterday', until: later() }, 'since', 'since'],
      [{ since, until: later(), states: ['pending'] }, 'states', 'states'],
      [{ since, until: later(), states: [] }, 'states', 'states'],
    ];
    for (const [body, field, words] of cases) {
      const res = await replay(body);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(JSON.stringify(res.body.error)).toContain(field);
      expect(res.body.error.message).toContain(words);
    }
  });

  it('owners and admins may replay; members may not; another organization sees no channel', async () => {
    const body = { since, until: later(), states: ['delivered'], dry_run: true };
    for (const token of [t.ownerToken, admin]) expect((await replay(body, token)).status).toBe(200);
    expect((await replay(body, member)).status).toBe(403);
    expect((await replay({ ...body, dry_run: false }, member)).status).toBe(403);
    expect((await replay({ ...body, dry_run: false }, stranger)).status).toBe(404);
    expect((await replay(body, undefined, 999_999)).status).toBe(404);
  });

  it('more than 500 matching deliveries is a 400 that says to narrow the range; 500 are taken', async () => {
    const made = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'busy', url: r.url('/busy') },
    });
    const db = t.server.ctx.db.kysely;
    const model = await db
      .selectFrom('deliveries')
      .selectAll()
      .where('channel_id', '=', channelId)
      .executeTakeFirstOrThrow();
    const { id: _id, ...row } = model;
    const copies = (n: number) =>
      Array.from({ length: n }, () => ({
        ...row,
        channel_id: made.body.id,
        state: 'failed' as const,
        redelivery_of: null,
      }));
    for (let i = 0; i < 5; i++) await db.insertInto('deliveries').values(copies(100)).execute();
    const body = { since, until: later(), dry_run: true };
    const full = await replay(body, undefined, made.body.id);
    expect(full.status, JSON.stringify(full.body)).toBe(200);
    expect(full.body.count).toBe(500);
    await db.insertInto('deliveries').values(copies(1)).execute();
    const over = await replay(body, undefined, made.body.id);
    expect(over.status).toBe(400);
    expect(over.body.error.code).toBe('too_many_deliveries');
    expect(over.body.error.message).toContain('more than 500');
    expect(over.body.error.message).toContain('narrow');
  });
});
