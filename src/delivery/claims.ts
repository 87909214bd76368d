import { sql, type Kysely, type RawBuilder } from 'kysely';
import { inIds, insertRows, notInIds, perRow, unnestTable } from '../storage/bulk-params.js';
import { isPending } from '../storage/deliveries-repo.js';
import type { Db, Dialect } from '../storage/database.js';
import type { Database } from '../storage/schema.js';
import type { ChannelRow } from '../storage/channels-repo.js';
import type { DeliveryState } from '../storage/schema.js';

export interface ClaimedDelivery {
  id: number;
  event_id: number;
  channel_id: number;
  run_id: number | null;
  event_type: string;
  webhook_id: string;
  attempts: number;
  event_data: string;
  event_created_at: number;
  channel: ChannelRow;
  /** The attempt written with the claim, when the claim was asked to start attempts. */
  attempt_id: number | null;
}

/** The log row of an attempt about to be sent (the request as the log keeps it). */
export interface AttemptStart {
  request_id: string;
  started_at: number;
  request_url: string;
  request_headers: string;
  request_body: string;
}

/** The delivery log's reason for an attempt whose worker stopped before recording its outcome. */
export const INTERRUPTED_REASON =
  'no outcome recorded: the worker stopped or lost its lease before the answer came; sent again';

export interface ClaimOptions {
  limit: number;
  workerId: string;
  leaseMs: number;
  /** Channels that already have as many sends in flight here as they may. */
  saturated: number[];
  /** In-flight counts per channel, so one batch does not exceed the cap either. */
  inFlight: Map<number, number>;
  perChannel: number;
  /**
   * Channels whose cap is higher than perChannel: those a hand-off overflowed, whose waiting
   * rows a claim moves into the engine's line as far as hand-offs could have (see the engine).
   */
  caps?: ReadonlyMap<number, number>;
  now: number;
  /** Deliveries this worker is sending right now: never claimed again while in flight, even past their lease. */
  inFlightIds?: number[];
  /**
   * Renders each claimed delivery's attempt, which is then written in the claim's own
   * transaction: the lease and the attempt it is for are committed together, in one commit.
   */
  start?: (d: ClaimedDelivery) => AttemptStart;
}

/**
 * Claims due deliveries by writing a lease on them.
 *
 * - Due: pending, next_attempt_at reached, and no live lease (an expired lease is how a crashed
 *   process's work comes back).
 * - Ordered: a delivery waits while an earlier delivery of the same run to the same channel is
 *   still pending, so a channel never hears test.finished before that run's test.started.
 * - Per channel: the channels with pending work are found by a loose index scan (one probe of
 *   deliveries_pending_channel per channel, the recursive CTE), then each channel not already
 *   at its cap gives its `perChannel` oldest due rows. A single scan of the due queue in time
 *   order would read past every row of the channels at their cap (a hung receiver's backlog) on
 *   each claim, which made a claim cost grow with the backlog.
 * - On PostgreSQL the chosen rows are locked with FOR UPDATE SKIP LOCKED, so concurrent
 *   workers take disjoint sets without waiting on each other; SQLite has one writer anyway.
 * - The per-channel cap is finished in code (the in-flight counts live here). Candidates not
 *   taken are simply left unleased when the transaction ends.
 */
export async function claimDue(db: Db, o: ClaimOptions): Promise<ClaimedDelivery[]> {
  return db.kysely.transaction().execute(async (trx) => {
    const saturated = sql`AND ${notInIds(db.dialect, 'ch.id', o.saturated)}`;
    const own = sql`AND ${notInIds(db.dialect, 'p.id', o.inFlightIds ?? [])}`;
    // The next channel with pending rows, from deliveries_pending_channel alone. Read from any
    // other index it means walking past every delivered row of the history: SQLite's planner,
    // without statistics, would take deliveries_due; PostgreSQL's, with statistics from when
    // the queue was full, took deliveries_channel and a claim cost 30 ms. The order by all
    // three columns of the partial index is one that only it gives (PostgreSQL has no
    // INDEXED BY).
    const pending =
      db.dialect === 'sqlite' ? sql`deliveries INDEXED BY deliveries_pending_channel` : sql`deliveries`;
    const nextChannel = (after: RawBuilder<unknown>) => sql`(
      SELECT channel_id FROM ${pending} WHERE state = 'pending' ${after}
      ORDER BY channel_id, next_attempt_at, id LIMIT 1)`;
    const channelsWithWork = sql`
      WITH RECURSIVE ch(id) AS (
        SELECT ${nextChannel(sql``)}
        UNION ALL
        SELECT ${nextChannel(sql`AND channel_id > ch.id`)}
        FROM ch WHERE ch.id IS NOT NULL
      )`;
    const channelDue = sql`
      SELECT p.id FROM deliveries p
      WHERE p.channel_id = ch.id AND p.state = 'pending' AND p.next_attempt_at <= ${o.now}
        AND (p.lease_until IS NULL OR p.lease_until < ${o.now})
        ${own}
        -- Nothing earlier of the run still pending for the channel: a probe of
        -- deliveries_pending_order per candidate. As NOT EXISTS, PostgreSQL made it an anti-join
        -- whose inner scan it keyed on the channel alone (without statistics), reading every
        -- pending row of the channel per candidate: 22 ms a claim with 2,000 per channel.
        AND (SELECT q.id FROM deliveries q
          WHERE q.channel_id = p.channel_id AND q.run_id = p.run_id AND q.id < p.id AND q.state = 'pending'
          LIMIT 1) IS NULL
      ORDER BY p.next_attempt_at, p.id
      LIMIT ${Math.max(o.perChannel, ...(o.caps?.values() ?? []))}`;
    // The same plan in each dialect's words: SQLite runs a correlated IN subquery once per
    // channel; PostgreSQL needs LATERAL for that (and locks only the delivery rows).
    const candidates =
      db.dialect === 'postgres'
        ? await sql<{ id: number; channel_id: number }>`
            ${channelsWithWork}
            SELECT d.id, d.channel_id FROM ch
            CROSS JOIN LATERAL (${channelDue}) x
            JOIN deliveries d ON d.id = x.id
            WHERE ch.id IS NOT NULL ${saturated}
              -- Again on the locked row itself: a row another worker leased and committed
              -- after this statement's snapshot is locked here all the same, and PostgreSQL
              -- re-checks only these conditions (not the LATERAL's) on its newest version.
              AND d.state = 'pending' AND (d.lease_until IS NULL OR d.lease_until < ${o.now})
            ORDER BY d.next_attempt_at, d.id
            LIMIT ${o.limit * 2}
            FOR UPDATE OF d SKIP LOCKED`.execute(trx)
        : await sql<{ id: number; channel_id: number }>`
            ${channelsWithWork}
            SELECT d.id, d.channel_id FROM ch
            JOIN deliveries d ON d.id IN (${channelDue})
            WHERE ch.id IS NOT NULL ${saturated}
            ORDER BY d.next_attempt_at, d.id
            LIMIT ${o.limit * 2}`.execute(trx);
    const taken: number[] = [];
    const counts = new Map(o.inFlight);
    for (const c of candidates.rows) {
      if (taken.length >= o.limit) break;
      const n = counts.get(c.channel_id) ?? 0;
      if (n >= (o.caps?.get(c.channel_id) ?? o.perChannel)) continue;
      counts.set(c.channel_id, n + 1);
      taken.push(c.id);
    }
    if (taken.length === 0) return [];
    const takenIds = (column: string) => inIds(db.dialect, column, taken);
    await sql`UPDATE deliveries SET lease_until = ${o.now + o.leaseMs}, lease_owner = ${o.workerId}
      WHERE ${takenIds('id')}`.execute(trx);
    // An attempt still without an outcome here was cut short: its worker died (or its lease
    // ran out) before the answer was recorded. Close it in the log and count it, so it does not
    // look in progress forever and the next attempt gets the next number.
    const interrupted =
      await sql`UPDATE delivery_attempts SET outcome = 'interrupted', error = ${INTERRUPTED_REASON}
      WHERE ${takenIds('delivery_id')} AND outcome IS NULL`.execute(trx);
    if (Number(interrupted.numAffectedRows ?? 0) > 0) {
      await sql`UPDATE deliveries
        SET attempts = (SELECT COUNT(*) FROM delivery_attempts a WHERE a.delivery_id = deliveries.id)
        WHERE ${takenIds('id')}`.execute(trx);
    }
    const { rows } = await sql<Omit<ClaimedDelivery, 'channel' | 'attempt_id'>>`
      SELECT d.id, d.event_id, d.channel_id, d.run_id, d.event_type, d.webhook_id, d.attempts,
        e.data AS event_data, e.created_at AS event_created_at
      FROM deliveries d JOIN events e ON e.id = d.event_id
      WHERE ${takenIds('d.id')} ORDER BY d.id`.execute(trx);
    // Channels come in their own query: joined, their `id` column would shadow the delivery's.
    const channelIds = [...new Set(rows.map((r) => r.channel_id))];
    const channels = new Map(
      (
        await sql<ChannelRow>`SELECT * FROM notification_channels WHERE ${inIds(db.dialect, 'id', channelIds)}`.execute(
          trx,
        )
      ).rows.map((c) => [c.id, c]),
    );
    const claimed: ClaimedDelivery[] = rows.flatMap((r) => {
      const channel = channels.get(r.channel_id);
      return channel ? [{ ...r, channel, attempt_id: null }] : [];
    });
    if (o.start) await insertAttemptStarts(db.dialect, trx, claimed, o.start);
    return claimed;
  });
}

/**
 * Writes the first log row of each delivery's next attempt, as `start` renders it, and sets
 * `attempt_id` on each: the claim and the hand-off (recordEvent) both lease deliveries this way.
 */
export async function insertAttemptStarts(
  dialect: Dialect,
  trx: Kysely<Database>,
  ds: ClaimedDelivery[],
  start: (d: ClaimedDelivery) => AttemptStart,
): Promise<void> {
  if (ds.length === 0) return;
  const starts = ds.map((d) => {
    const s = start(d);
    return [
      d.id,
      d.attempts + 1,
      s.request_id,
      s.started_at,
      s.request_url,
      s.request_headers,
      s.request_body,
    ];
  });
  const inserted = await insertRows<{ id: number; delivery_id: number }>(
    dialect,
    trx,
    'delivery_attempts',
    ATTEMPT_START_COLUMNS,
    starts,
    ['id', 'delivery_id'],
  );
  const byDelivery = new Map(inserted.map((r) => [Number(r.delivery_id), Number(r.id)]));
  for (const d of ds) d.attempt_id = byDelivery.get(d.id) ?? null;
}

/**
 * Fills in the request of an attempt that was written without it, its template not rendered
 * yet (see prepareAttempt): before it is sent, so the log shows what is on its way. An attempt
 * that has an outcome already (taken over, and closed as interrupted) is left as it is.
 */
export async function recordAttemptRequest(db: Db, attemptId: number, s: AttemptStart): Promise<void> {
  await db.kysely
    .updateTable('delivery_attempts')
    .set({ request_url: s.request_url, request_headers: s.request_headers, request_body: s.request_body })
    .where('id', '=', attemptId)
    .where('outcome', 'is', null)
    .execute();
}

/**
 * A transaction's hand-off to the delivery engine of this process: the deliveries it queues
 * are written already leased to that engine, each with its first attempt, and go to the
 * engine when the transaction commits. No claim has to find them: a status change reaches
 * its receivers as soon as it is answered.
 */
export interface Handoff {
  readonly workerId: string;
  readonly leaseMs: number;
  /**
   * Takes a place for one delivery of each channel that has room here. `later`: channels
   * without room because they are busy here; this engine claims their deliveries itself once
   * they have room, so nothing needs waking for them.
   */
  reserve(channelIds: readonly number[]): { taken: Set<number>; later: Set<number> };
  /** Renders a delivery's attempt, as the claim's `start` does. */
  start(d: ClaimedDelivery): AttemptStart;
  /** The deliveries written leased to this engine, their attempts with them. */
  written(ds: ClaimedDelivery[]): void;
  /**
   * Channels whose pending deliveries of the run (`pending`: how many each has) are all held
   * by this engine, one of them sending: the new delivery is written leased here, with its
   * attempt, and sent once the one ahead has ended for good (see RunChains). The others are
   * left to `behind`.
   */
  follow(pending: ReadonlyMap<number, number>, runId: number): Set<number>;
  /**
   * The run's deliveries to these channels were written unleased, behind an earlier delivery
   * of the run to the same channel that is still pending: they wait for its end.
   */
  behind(channelIds: number[], runId: number): void;
  /** The transaction committed: the written deliveries are sent. */
  commit(): void;
  /** The transaction did not commit: the slots are freed and nothing is sent. */
  abort(): void;
}

/** Something that can take deliveries as they are queued: a running engine. */
export interface DeliveryTaker {
  /** A hand-off for one transaction, or null when nothing can be taken now (stopping). */
  begin(): Handoff | null;
}

const ATTEMPT_START_COLUMNS = [
  ['delivery_id', 'bigint'],
  ['number', 'integer'],
  ['request_id', 'text'],
  ['started_at', 'bigint'],
  ['request_url', 'text'],
  ['request_headers', 'text'],
  ['request_body', 'text'],
] as const;

/** The earliest time a pending, unleased delivery becomes due, or null when none waits. */
export async function nextDueAt(db: Db, now: number): Promise<number | null> {
  const row = await db.kysely
    .selectFrom('deliveries')
    .select((eb) => eb.fn.min('next_attempt_at').as('at'))
    .where(isPending)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return row?.at == null ? null : Number(row.at);
}

/**
 * Gives deliveries leased to `workerId` but never sent back to claims: their unsent attempts
 * are removed (they were written with the lease, see Handoff.follow) and their leases cleared,
 * so the next claim takes them in their run's order, with the right attempt number. A delivery
 * whose lease another worker has taken over meanwhile is left alone, with its attempt.
 */
export async function releaseUnsent(
  db: Db,
  workerId: string,
  unsent: readonly { deliveryId: number; attemptId: number }[],
): Promise<void> {
  if (unsent.length === 0) return;
  await db.kysely.transaction().execute(async (trx) => {
    const { rows } = await sql<{ id: number }>`UPDATE deliveries SET lease_until = NULL, lease_owner = NULL
      WHERE ${inIds(
        db.dialect,
        'id',
        unsent.map((u) => u.deliveryId),
      )}
        AND lease_owner = ${workerId} AND state = 'pending'
      RETURNING id`.execute(trx);
    const released = new Set(rows.map((r) => Number(r.id)));
    const attempts = unsent.filter((u) => released.has(u.deliveryId)).map((u) => u.attemptId);
    if (attempts.length === 0) return;
    await sql`DELETE FROM delivery_attempts
      WHERE ${inIds(db.dialect, 'id', attempts)} AND outcome IS NULL`.execute(trx);
  });
}

/** SQLite has one process: whatever it leased before a crash is safe to take back at start. */
export async function releaseAllLeases(db: Db): Promise<void> {
  await db.kysely
    .updateTable('deliveries')
    .set({ lease_until: null, lease_owner: null })
    .where(isPending)
    .where('lease_until', 'is not', null)
    .execute();
}

export interface Completion {
  deliveryId: number;
  workerId: string;
  attemptId: number;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  attempt: {
    duration_ms: number;
    response_status: number | null;
    response_headers: string | null;
    response_body: string | null;
    outcome: string;
    error: string | null;
  };
  /**
   * The channel's run of permanent failures: reset by a delivery, counted by a failure (and
   * the channel switched off after DISABLE_AFTER_PERMANENT_FAILURES), left alone otherwise.
   */
  account: { channelId: number; effect: 'reset' | 'count' | 'none'; reason: string | null };
}

/** Permanent failures in a row after which a channel is switched off until someone looks. */
export const DISABLE_AFTER_PERMANENT_FAILURES = 3;

const ATTEMPT_END_COLUMNS = [
  ['id', 'bigint'],
  ['duration_ms', 'integer'],
  ['response_status', 'integer'],
  ['response_headers', 'text'],
  ['response_body', 'text'],
  ['outcome', 'text'],
  ['error', 'text'],
] as const;

const DELIVERY_END_COLUMNS = [
  ['id', 'bigint'],
  ['owner', 'text'],
  ['state', 'text'],
  ['attempts', 'integer'],
  ['next_attempt_at', 'bigint'],
  ['last_error', 'text'],
] as const;

/**
 * Records attempts' ends and their deliveries' next states, a batch at a time, in the caller's
 * transaction: one statement per table for the whole batch. The lease owner is part of the
 * condition: a worker whose lease ran out (and whose delivery another worker took) must not
 * overwrite that worker's outcome. Returns, per completion, whether the lease was still held;
 * only then does the completion count towards its channel's failures.
 */
export async function writeCompletions(
  dialect: Dialect,
  trx: Kysely<Database>,
  cs: readonly Completion[],
): Promise<boolean[]> {
  if (cs.length === 0) return [];
  const now = Date.now();
  const attempts = cs.map((c) => [
    c.attemptId,
    c.attempt.duration_ms,
    c.attempt.response_status,
    c.attempt.response_headers,
    c.attempt.response_body,
    c.attempt.outcome,
    c.attempt.error,
  ]);
  const deliveries = cs.map((c) => [
    c.deliveryId,
    c.workerId,
    c.state,
    c.attempts,
    c.nextAttemptAt,
    c.lastError,
  ]);
  // Deliveries before their attempts, the order in which deleting a channel (or a delivery)
  // cascades: taken the other way round, a completion and a channel's deletion on PostgreSQL
  // could each hold the row the other waits for, and one of them failed as a deadlock.
  let heldIds: Set<number>;
  if (dialect === 'sqlite') {
    // A statement per row (see perRow): ten rows took 214 us as two UPDATE ... FROM json_each.
    const updated = await perRow<{ id: number }>(
      trx,
      `UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?,
        lease_until = NULL, lease_owner = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?
        RETURNING id`,
      deliveries.map(([id, owner, ...values]) => [...values, now, id, owner]),
    );
    heldIds = new Set(updated.flat().map((r) => Number(r.id)));
    await perRow(
      trx,
      `UPDATE delivery_attempts SET duration_ms = ?, response_status = ?, response_headers = ?,
        response_body = ?, outcome = ?, error = ? WHERE id = ?`,
      attempts.map(([id, ...values]) => [...values, id]),
    );
  } else {
    const { rows } = await sql<{ id: number }>`
      UPDATE deliveries SET state = v.state, attempts = v.attempts, next_attempt_at = v.next_attempt_at,
        last_error = v.last_error, lease_until = NULL, lease_owner = NULL, updated_at = ${now}
      FROM ${unnestTable('v', DELIVERY_END_COLUMNS, deliveries)}
      WHERE deliveries.id = v.id AND deliveries.lease_owner = v.owner
      RETURNING deliveries.id`.execute(trx);
    heldIds = new Set(rows.map((r) => Number(r.id)));
    await sql`
      UPDATE delivery_attempts SET duration_ms = v.duration_ms, response_status = v.response_status,
        response_headers = v.response_headers, response_body = v.response_body, outcome = v.outcome,
        error = v.error
      FROM ${unnestTable('v', ATTEMPT_END_COLUMNS, attempts)}
      WHERE delivery_attempts.id = v.id`.execute(trx);
  }
  const held = cs.map((c) => heldIds.has(c.deliveryId));
  await accountChannels(
    dialect,
    trx,
    cs.filter((_, i) => held[i]).map((c) => c.account),
  );
  return held;
}

/**
 * Applies the batch's effects on channels in order. Resets are gathered into one statement
 * until a failure of one of their channels has to be counted after them.
 */
async function accountChannels(
  dialect: Dialect,
  trx: Kysely<Database>,
  effects: Completion['account'][],
): Promise<void> {
  let resets = new Set<number>();
  const flushResets = async () => {
    if (resets.size === 0) return;
    const ids = inIds(
      dialect,
      'id',
      [...resets].sort((x, y) => x - y),
    );
    await sql`UPDATE notification_channels SET consecutive_failures = 0
      WHERE ${ids} AND consecutive_failures > 0`.execute(trx);
    resets = new Set();
  };
  for (const e of effects) {
    if (e.effect === 'reset') resets.add(e.channelId);
    if (e.effect !== 'count') continue;
    if (resets.has(e.channelId)) await flushResets();
    await trx
      .updateTable('notification_channels')
      .set({ consecutive_failures: sql`consecutive_failures + 1` })
      .where('id', '=', e.channelId)
      .execute();
    const message = `disabled after ${DISABLE_AFTER_PERMANENT_FAILURES} deliveries failed in a row; last: ${e.reason}`;
    await trx
      .updateTable('notification_channels')
      .set({ enabled: 0, disabled_reason: message, updated_at: Date.now() })
      .where('id', '=', e.channelId)
      .where('enabled', '=', 1)
      .where('consecutive_failures', '>=', DISABLE_AFTER_PERMANENT_FAILURES)
      .execute();
  }
  await flushResets();
}
