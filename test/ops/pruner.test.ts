import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, insertChannelRow, openTestDb } from '../helpers/db.js';
import type { Db } from '../../src/storage/database.js';
import type { DeliveryState } from '../../src/storage/schema.js';
import { RetentionPruner } from '../../src/retention/pruner.js';
import { recordDisabled } from '../../src/storage/operator-alerts-repo.js';

const DAY = 24 * 60 * 60 * 1000;
const MINUTE = 60_000;

/** A pass's result that deleted deliveries only. */
const deleted = (deliveries: number, attempts: number) => ({
  deliveries,
  attempts,
  events: 0,
  scheduleTicks: 0,
  loginFailures: 0,
  sessions: 0,
  invitations: 0,
  tokens: 0,
  channelState: 0,
  alerts: 0,
});

describe.each(DIALECTS)('retention pruner (%s)', (dialect) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  let channelId: number;
  let eventId: number;
  const now = Date.now();

  beforeAll(async () => {
    ({ db, cleanup } = await openTestDb(dialect));
    const org = await db.kysely
      .insertInto('organizations')
      .values({ name: 'Acme', created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    channelId = await insertChannelRow(db, org.id);
    const event = await db.kysely
      .insertInto('events')
      .values({ organization_id: org.id, run_id: null, type: 'test.started', data: '{}', created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    eventId = event.id;
  });
  afterAll(() => cleanup());

  it('forgets what a channel remembered and did not write again within the retention', async () => {
    const remember = (key: string, ageDays: number) =>
      db.kysely
        .insertInto('channel_state')
        .values({ channel_id: channelId, state_key: key, value: '1', updated_at: now - ageDays * DAY })
        .execute();
    await remember('run:old', 31);
    await remember('run:recent', 29);
    const pruner = new RetentionPruner({ db, retentionDays: 30, pauseMs: 0 });
    expect((await pruner.pruneOnce(now)).channelState).toBe(1);
    const left = await db.kysely.selectFrom('channel_state').select('state_key').execute();
    expect(left.map((r) => r.state_key)).toEqual(['run:recent']);
    await db.kysely.deleteFrom('channel_state').execute();
  });

  /** A delivery with `attempts` attempt rows, created and last updated `ageDays` ago. */
  const delivery = async (state: DeliveryState, ageDays: number, attempts = 1) => {
    const at = now - ageDays * DAY;
    const { id } = await db.kysely
      .insertInto('deliveries')
      .values({
        event_id: eventId,
        channel_id: channelId,
        organization_id: 1,
        run_id: null,
        event_type: 'test.started',
        webhook_id: `msg_${Math.random()}`,
        redelivery_of: null,
        state,
        attempts,
        next_attempt_at: at,
        lease_until: null,
        lease_owner: null,
        last_error: null,
        created_at: at,
        updated_at: at,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (let n = 1; n <= attempts; n++) {
      await db.kysely
        .insertInto('delivery_attempts')
        .values({
          delivery_id: id,
          number: n,
          request_id: `r${id}-${n}`,
          started_at: at,
          duration_ms: 5,
          request_url: 'http://example.com/****',
          request_headers: '{}',
          request_body: '{}',
          response_status: 200,
          response_headers: '{}',
          response_body: 'ok',
          outcome: state === 'pending' ? 'retry' : state === 'delivered' ? 'delivered' : 'permanent',
          error: null,
        })
        .execute();
    }
    return Number(id);
  };

  const remaining = async () =>
    (await db.kysely.selectFrom('deliveries').select('id').orderBy('id').execute()).map((r) => Number(r.id));
  const attemptsOf = async (ids: number[]) =>
    Number(
      (
        await db.kysely
          .selectFrom('delivery_attempts')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('delivery_id', 'in', ids)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('deletes old delivered and failed deliveries with their attempts, keeps pending and recent ones', async () => {
    const oldDelivered = await delivery('delivered', 40, 2);
    const oldFailed = await delivery('failed', 31, 3);
    const oldPending = await delivery('pending', 60, 2);
    const recentDelivered = await delivery('delivered', 29);
    const recentFailed = await delivery('failed', 1, 2);

    const pruner = new RetentionPruner({ db, retentionDays: 30, pauseMs: 0 });
    const result = await pruner.pruneOnce(now);
    expect(result).toEqual(deleted(2, 5));
    expect(await remaining()).toEqual([oldPending, recentDelivered, recentFailed]);
    expect(await attemptsOf([oldDelivered, oldFailed])).toBe(0);
    expect(await attemptsOf([oldPending, recentDelivered, recentFailed])).toBe(5);
    // The event stays: it is recent (and a delivery of it is left).
    const event = await db.kysely
      .selectFrom('events')
      .select('id')
      .where('id', '=', eventId)
      .executeTakeFirst();
    expect(event).toBeDefined();

    // Nothing more to do on a second pass.
    expect(await pruner.pruneOnce(now)).toEqual(deleted(0, 0));
  });

  it('works through more rows than one batch', async () => {
    const old: number[] = [];
    for (let i = 0; i < 7; i++) old.push(await delivery(i % 2 ? 'failed' : 'delivered', 45));
    const before = await remaining();
    const pruner = new RetentionPruner({ db, retentionDays: 30, batchSize: 3, pauseMs: 1 });
    const result = await pruner.pruneOnce(now);
    expect(result).toEqual(deleted(7, 7));
    expect(await remaining()).toEqual(before.filter((id) => !old.includes(id)));
  });

  it('finds old rows among recent ones, batch by batch, and misses none of them', async () => {
    // Old and recent rows interleaved, batches smaller than the old rows: each batch reads the
    // (state, updated_at) index afresh.
    const old: number[] = [];
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 2) await delivery('delivered', 5);
      else old.push(await delivery(i % 2 ? 'failed' : 'delivered', 45));
    }
    const before = await remaining();
    const pruner = new RetentionPruner({ db, retentionDays: 30, batchSize: 2, pauseMs: 0 });
    expect(await pruner.pruneOnce(now)).toEqual(deleted(old.length, old.length));
    expect(await remaining()).toEqual(before.filter((id) => !old.includes(id)));
  });

  it('runs on its own after start and stops cleanly', async () => {
    const old = await delivery('delivered', 90);
    const pruner = new RetentionPruner({ db, retentionDays: 30, initialDelayMs: 1, intervalMs: 60_000 });
    pruner.start();
    const deadline = Date.now() + 5000;
    while ((await remaining()).includes(old) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await pruner.stop();
    expect(await remaining()).not.toContain(old);
  });
});

/**
 * Requests from anyone, signed in or not, leave sign-in throttle rows and sessions behind; the
 * retention pass deletes them once they no longer change any answer (issue #17, hole 5).
 */
describe.each(DIALECTS)('retention pruner: sign-in leftovers (%s)', (dialect) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  let userId: number;
  const now = Date.now();

  beforeAll(async () => {
    ({ db, cleanup } = await openTestDb(dialect));
    const user = await db.kysely
      .insertInto('users')
      .values({ email: 'u@example.com', password_hash: 'x', created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    userId = Number(user.id);
  });
  afterAll(() => cleanup());

  const failure = (key: string, firstAgoMs: number, lockedUntil: number) =>
    db.kysely
      .insertInto('login_failures')
      .values({ key, failures: 6, first_at: now - firstAgoMs, locked_until: lockedUntil })
      .execute();
  const session = async (name: string, expiresAt: number) =>
    db.kysely
      .insertInto('sessions')
      .values({
        token_hash: name,
        csrf_token: 'c',
        user_id: userId,
        created_at: now - DAY,
        expires_at: expiresAt,
      })
      .execute();
  const keys = async () =>
    (await db.kysely.selectFrom('login_failures').select('key').orderBy('key').execute()).map((r) => r.key);
  const sessions = async () =>
    (await db.kysely.selectFrom('sessions').select('token_hash').orderBy('token_hash').execute()).map(
      (r) => r.token_hash,
    );

  it('deletes throttle rows whose window and lock have passed and expired sessions, keeps live ones', async () => {
    await failure('email:window-passed', 20 * MINUTE, 0);
    await failure('ip:lock-ended', 40 * MINUTE, now - MINUTE);
    await failure('email:in-window', 5 * MINUTE, 0);
    await failure('ip:still-locked', 30 * MINUTE, now + 5 * MINUTE);
    await session('expired', now - 1);
    await session('live', now + DAY);

    const pruner = new RetentionPruner({ db, retentionDays: 30, pauseMs: 0 });
    expect(await pruner.pruneOnce(now)).toEqual({
      deliveries: 0,
      attempts: 0,
      events: 0,
      scheduleTicks: 0,
      loginFailures: 2,
      sessions: 1,
      invitations: 0,
      tokens: 0,
      channelState: 0,
      alerts: 0,
    });
    expect(await keys()).toEqual(['email:in-window', 'ip:still-locked']);
    expect(await sessions()).toEqual(['live']);
  });

  it('works through more rows than one batch', async () => {
    for (let i = 0; i < 7; i++) {
      await failure(`email:old-${i}`, DAY, 0);
      await session(`old-${i}`, now - DAY);
    }
    const pruner = new RetentionPruner({ db, retentionDays: 30, batchSize: 3, pauseMs: 0 });
    expect(await pruner.pruneOnce(now)).toMatchObject({ loginFailures: 7, sessions: 7 });
    expect(await keys()).toEqual(['email:in-window', 'ip:still-locked']);
    expect(await sessions()).toEqual(['live']);
  });

  it('deletes invitations that can no longer be used and tokens long expired, after the retention', async () => {
    const org = await db.kysely
      .insertInto('organizations')
      .values({ name: 'Org', created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    const old = now - 40 * DAY;
    const invitation = (name: string, made: number, set: Record<string, number | null>) =>
      db.kysely
        .insertInto('invitations')
        .values({
          organization_id: org.id,
          email: `${name}@example.com`,
          role: 'member',
          token_hash: name,
          invited_by: userId,
          created_at: made,
          expires_at: made + 7 * DAY,
          accepted_at: null,
          accepted_by: null,
          revoked_at: null,
          ...set,
        })
        .execute();
    await invitation('old-accepted', old, { accepted_at: old + DAY, accepted_by: userId });
    await invitation('old-revoked', old, { revoked_at: old + DAY });
    await invitation('old-expired', old, {});
    await invitation('recent-accepted', now - DAY, { accepted_at: now, accepted_by: userId });
    await invitation('pending', now - DAY, {});
    const token = (name: string, expires: number | null) =>
      db.kysely
        .insertInto('api_tokens')
        .values({
          user_id: userId,
          name,
          token_hash: name,
          created_at: old,
          last_used_at: null,
          expires_at: expires,
        })
        .execute();
    await token('long-expired', now - 31 * DAY);
    await token('just-expired', now - DAY);
    await token('forever', null);

    const pruner = new RetentionPruner({ db, retentionDays: 30, batchSize: 2, pauseMs: 0 });
    expect(await pruner.pruneOnce(now)).toMatchObject({ invitations: 3, tokens: 1 });
    const left = await db.kysely
      .selectFrom('invitations')
      .select('token_hash')
      .orderBy('token_hash')
      .execute();
    expect(left.map((r) => r.token_hash)).toEqual(['pending', 'recent-accepted']);
    const tokens = await db.kysely.selectFrom('api_tokens').select('name').orderBy('name').execute();
    expect(tokens.map((r) => r.name)).toEqual(['forever', 'just-expired']);
  });
});

/** Events and schedule ticks grow with every run and tick; the pass deletes the old ones. */
describe.each(DIALECTS)('retention pruner: events and schedule ticks (%s)', (dialect) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  let orgId: number;
  let channelId: number;
  let loadTestId: number;
  const now = Date.now();

  beforeAll(async () => {
    ({ db, cleanup } = await openTestDb(dialect));
    const org = await db.kysely
      .insertInto('organizations')
      .values({ name: 'Acme', created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    orgId = org.id;
    channelId = await insertChannelRow(db, orgId);
    const project = await db.kysely
      .insertInto('projects')
      .values({ organization_id: orgId, name: 'Web', created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    const lt = await db.kysely
      .insertInto('load_tests')
      .values({
        project_id: project.id,
        organization_id: orgId,
        name: 'LT',
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    loadTestId = lt.id;
  });
  afterAll(() => cleanup());

  const event = async (ageDays: number) =>
    (
      await db.kysely
        .insertInto('events')
        .values({
          organization_id: orgId,
          run_id: null,
          type: 'test.started',
          data: '{}',
          created_at: now - ageDays * DAY,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const deliveryOf = async (eventId: number, state: DeliveryState, ageDays: number) => {
    const at = now - ageDays * DAY;
    await db.kysely
      .insertInto('deliveries')
      .values({
        event_id: eventId,
        channel_id: channelId,
        organization_id: orgId,
        run_id: null,
        event_type: 'test.started',
        webhook_id: `msg_${Math.random()}`,
        redelivery_of: null,
        state,
        attempts: 0,
        next_attempt_at: at,
        lease_until: null,
        lease_owner: null,
        last_error: null,
        created_at: at,
        updated_at: at,
      })
      .execute();
  };
  const events = async () =>
    (await db.kysely.selectFrom('events').select('id').orderBy('id').execute()).map((r) => r.id);

  it('deletes old events no delivery refers to any more, after their deliveries; keeps the rest', async () => {
    const noDelivery = await event(40);
    const deliveredLongAgo = await event(40);
    await deliveryOf(deliveredLongAgo, 'delivered', 40);
    const stillPending = await event(40);
    await deliveryOf(stillPending, 'pending', 40);
    const recentlyDelivered = await event(40);
    await deliveryOf(recentlyDelivered, 'delivered', 1);
    const recent = await event(1);

    const pruner = new RetentionPruner({ db, retentionDays: 30, pauseMs: 0 });
    expect(await pruner.pruneOnce(now)).toMatchObject({ deliveries: 1, events: 2 });
    expect(await events()).toEqual([stillPending, recentlyDelivered, recent]);
    expect(await events()).not.toContain(noDelivery);
  });

  it('deletes old events in batches', async () => {
    const before = await events();
    const old: number[] = [];
    for (let i = 0; i < 5; i++) old.push(await event(60));
    const pruner = new RetentionPruner({ db, retentionDays: 30, batchSize: 2, pauseMs: 0 });
    expect(await pruner.pruneOnce(now)).toMatchObject({ events: 5 });
    expect(await events()).toEqual(before);
  });

  const tick = async (tickAt: number, ageDays: number, owned = false) =>
    (
      await db.kysely
        .insertInto('schedule_ticks')
        .values({
          load_test_id: loadTestId,
          tick_at: tickAt,
          fired_by: 'host/1/abcd',
          run_id: null,
          outcome: 'started',
          reason: null,
          created_at: now - ageDays * DAY,
          ...(owned ? { owner_lease_until: now + 60_000 } : {}),
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const ticks = async () =>
    (await db.kysely.selectFrom('schedule_ticks').select('id').orderBy('id').execute()).map((r) => r.id);

  it('deletes old schedule ticks in batches, keeps recent ones and any whose run may still be going', async () => {
    for (let i = 0; i < 5; i++) await tick(i, 45);
    const owned = await tick(100, 45, true);
    const recent = await tick(101, 2);
    const pruner = new RetentionPruner({ db, retentionDays: 30, batchSize: 2, pauseMs: 0 });
    expect(await pruner.pruneOnce(now)).toMatchObject({ scheduleTicks: 5 });
    expect(await ticks()).toEqual([owned, recent]);
  });

  it('deletes operator alerts dismissed longer ago than the retention; open ones stay, however old', async () => {
    const alert = async (at: number, dismissedAt: number | null) => {
      await db.kysely.transaction().execute((trx) => recordDisabled(trx, channelId, 'HTTP 410', at));
      const { id } = await db.kysely
        .selectFrom('operator_alerts')
        .select('id')
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      // Mailed (or nobody to mail): only a waiting one is still owed its mail.
      await db.kysely
        .updateTable('operator_alerts')
        .set({ dispatch_state: 'done' })
        .where('id', '=', id)
        .execute();
      if (dismissedAt !== null)
        await db.kysely
          .updateTable('operator_alerts')
          .set({ dismissed_at: dismissedAt })
          .where('id', '=', id)
          .execute();
      return id;
    };
    const oldDismissed = await alert(now - 40 * DAY, now - 31 * DAY);
    const recentDismissed = await alert(now - 40 * DAY, now - DAY);
    const oldOpen = await alert(now - 40 * DAY, null);
    const pruner = new RetentionPruner({ db, retentionDays: 30, pauseMs: 0 });
    expect(await pruner.pruneOnce(now)).toMatchObject({ alerts: 1 });
    const left = (await db.kysely.selectFrom('operator_alerts').select('id').execute()).map((r) => r.id);
    expect(left).not.toContain(oldDismissed);
    expect(left).toEqual(expect.arrayContaining([recentDismissed, oldOpen]));
  });

  it('has the indexes the pass reads: deliveries (state, updated_at) and events (created_at)', async () => {
    const columns = async (index: string) => {
      if (dialect === 'sqlite') {
        const rows = await sql<{ name: string }>`select name from pragma_index_info(${index})`.execute(
          db.kysely,
        );
        return rows.rows.map((r) => r.name);
      }
      const rows = await sql<{ column: string }>`
        select a.attname as column
        from pg_index i
        join pg_class c on c.oid = i.indexrelid
        join pg_namespace n on n.oid = c.relnamespace and n.nspname = current_schema()
        join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        where c.relname = ${index}
        order by array_position(i.indkey, a.attnum)`.execute(db.kysely);
      return rows.rows.map((r) => r.column);
    };
    expect(await columns('deliveries_state_updated')).toEqual(['state', 'updated_at']);
    expect(await columns('events_created')).toEqual(['created_at']);
  });
});
