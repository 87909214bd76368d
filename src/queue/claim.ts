import { sql, type RawBuilder } from 'kysely';
import { inIds, notInIds } from '../storage/bulk-params.js';
import type { Db } from '../storage/database.js';
import type { ChannelRow } from '../storage/channels-repo.js';
import type { ClaimedDelivery } from './handoff.js';
import { recordTakeOvers } from './take-over.js';

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
        ? await sql<{ id: number; channel_id: number; lease_owner: string | null }>`
            ${channelsWithWork}
            SELECT d.id, d.channel_id, d.lease_owner FROM ch
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
        : await sql<{ id: number; channel_id: number; lease_owner: string | null }>`
            ${channelsWithWork}
            SELECT d.id, d.channel_id, d.lease_owner FROM ch
            JOIN deliveries d ON d.id IN (${channelDue})
            WHERE ch.id IS NOT NULL ${saturated}
            ORDER BY d.next_attempt_at, d.id
            LIMIT ${o.limit * 2}`.execute(trx);
    const taken: number[] = [];
    // Leases that ran out: their holders may have been sending (see recordTakeOvers).
    const expired: number[] = [];
    const counts = new Map(o.inFlight);
    for (const c of candidates.rows) {
      if (taken.length >= o.limit) break;
      const n = counts.get(c.channel_id) ?? 0;
      if (n >= (o.caps?.get(c.channel_id) ?? o.perChannel)) continue;
      counts.set(c.channel_id, n + 1);
      taken.push(c.id);
      if (c.lease_owner !== null) expired.push(c.id);
    }
    if (taken.length === 0) return [];
    const takenIds = (column: string) => inIds(db.dialect, column, taken);
    await recordTakeOvers(db.dialect, trx, expired, o.now);
    await sql`UPDATE deliveries SET lease_until = ${o.now + o.leaseMs}, lease_owner = ${o.workerId}
      WHERE ${takenIds('id')}`.execute(trx);
    const { rows } = await sql<Omit<ClaimedDelivery, 'channel'>>`
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
      return channel ? [{ ...r, channel }] : [];
    });
    return claimed;
  });
}
