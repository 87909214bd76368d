/**
 * What a channel remembers between notifications (ChannelType.stateKey): read before a
 * delivery's first request, written with its outcome (writeCompletions), forgotten when the
 * channel's destination changes and by retention.
 */
import { sql, type Kysely } from 'kysely';
import type { Dialect } from './database.js';
import type { Database } from './schema.js';

/**
 * Where a channel sends, as a delivery read it with the channel row: the channel's destination
 * version, which moves on only when the channel is pointed elsewhere (see the PATCH route). A
 * channel's state belongs to one destination, so it is read, kept and forgotten only while the
 * channel still has this version; a move in between (which also forgets the state) makes the
 * state not this delivery's to use. A rename, new settings that leave the address alone, the
 * same URL given again and a key rotation (which re-seals every URL) keep it.
 */
export interface Destination {
  destination_version: number;
}

export interface RememberedState {
  channelId: number;
  key: string;
  /** What to keep; null forgets the key. */
  value: string | null;
  /** Where the channel sent when the value was made (see Destination). */
  destination: Destination;
}

/**
 * The channel still sends to `d`. On PostgreSQL the row is locked for share: a move committing
 * meanwhile (its UPDATE holds the row) is waited for, and the condition is checked again on the
 * row it committed, so an answer from the old destination is not kept for the new one.
 */
function stillSendsTo(dialect: Dialect, channelId: number, d: Destination) {
  return sql`EXISTS (SELECT 1 FROM notification_channels c
    WHERE c.id = ${channelId} AND c.destination_version = ${d.destination_version}
    ${dialect === 'postgres' ? sql`FOR SHARE` : sql``})`;
}

/** What the channel remembered under `key`, while it still sends to `destination`; else null. */
export async function readChannelState(
  dialect: Dialect,
  k: Kysely<Database>,
  channelId: number,
  key: string,
  destination: Destination,
): Promise<string | null> {
  const { rows } = await sql<{ value: string }>`
    SELECT s.value FROM channel_state s JOIN notification_channels c ON c.id = s.channel_id
    WHERE s.channel_id = ${channelId} AND s.state_key = ${key}
      AND c.destination_version = ${destination.destination_version}`.execute(k);
  return rows[0]?.value ?? null;
}

/**
 * Writes each value in order (a later one for the same key wins), in the caller's transaction,
 * each only while its channel still sends where the value was made (see Destination): a
 * channel deleted meanwhile took its state with it, and one moved meanwhile forgot it.
 */
export async function writeChannelStates(
  dialect: Dialect,
  k: Kysely<Database>,
  states: readonly RememberedState[],
  now = Date.now(),
): Promise<void> {
  for (const s of states) {
    const there = stillSendsTo(dialect, s.channelId, s.destination);
    if (s.value === null) {
      await sql`DELETE FROM channel_state WHERE channel_id = ${s.channelId} AND state_key = ${s.key}
        AND ${there}`.execute(k);
      continue;
    }
    // From a SELECT that finds no row when the channel is gone or moved: nothing is inserted
    // (a failed foreign key would end a PostgreSQL transaction). Typed: PostgreSQL reads a bare
    // parameter in a select list as text.
    await sql`INSERT INTO channel_state (channel_id, state_key, value, updated_at)
      SELECT ${s.channelId}, CAST(${s.key} AS text), CAST(${s.value} AS text), CAST(${now} AS bigint)
      WHERE ${there}
      ON CONFLICT (channel_id, state_key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`.execute(
      k,
    );
  }
}

/** A channel's state belongs to its destination: moving it elsewhere forgets all of it. */
export async function forgetChannelState(k: Kysely<Database>, channelId: number): Promise<void> {
  await k.deleteFrom('channel_state').where('channel_id', '=', channelId).execute();
}

/** Deletes up to `limit` keys not written since `cutoff` (retention); returns how many. */
export async function deleteStaleChannelState(
  k: Kysely<Database>,
  cutoff: number,
  limit: number,
): Promise<number> {
  const rows = await k
    .selectFrom('channel_state')
    .select(['channel_id', 'state_key'])
    .where('updated_at', '<', cutoff)
    .limit(limit)
    .execute();
  if (rows.length === 0) return 0;
  // One statement for the batch, as the other retention deletes take theirs by id; the key is
  // a pair here, so a row-value IN (SQLite and PostgreSQL both read it; typed, as PostgreSQL
  // reads a bare parameter in VALUES as text).
  const pairs = sql.join(
    rows.map((r) => sql`(CAST(${r.channel_id} AS bigint), CAST(${r.state_key} AS text))`),
  );
  await k
    .deleteFrom('channel_state')
    .where(sql<boolean>`(channel_id, state_key) IN (VALUES ${pairs})`)
    .where('updated_at', '<', cutoff)
    .execute();
  // A full batch asks for another look, even if a key of it was written again meanwhile.
  return rows.length;
}
