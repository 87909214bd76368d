/**
 * What a channel remembers between notifications (ChannelType.stateKey): read before a
 * delivery's first request, written with its outcome (writeCompletions), forgotten when the
 * channel's destination changes and by retention.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface RememberedState {
  channelId: number;
  key: string;
  /** What to keep; null forgets the key. */
  value: string | null;
  /**
   * Where the channel sent when the value was made (its stored URL and settings as the
   * delivery read them): a value is kept only while the channel still sends there. A move
   * while the answer was on its way forgot the channel's state; the old destination's answer
   * (an annotation id, a comment id) must not come back as the new one's.
   */
  destination: { url_sealed: string; config: string };
}

export async function readChannelState(
  k: Kysely<Database>,
  channelId: number,
  key: string,
): Promise<string | null> {
  const row = await k
    .selectFrom('channel_state')
    .select('value')
    .where('channel_id', '=', channelId)
    .where('state_key', '=', key)
    .executeTakeFirst();
  return row?.value ?? null;
}

/** Writes each value in order (a later one for the same key wins), in the caller's transaction. */
export async function writeChannelStates(
  k: Kysely<Database>,
  states: readonly RememberedState[],
  now = Date.now(),
): Promise<void> {
  for (const s of states) {
    if (s.value === null) {
      await k
        .deleteFrom('channel_state')
        .where('channel_id', '=', s.channelId)
        .where('state_key', '=', s.key)
        .execute();
      continue;
    }
    // From the channel's row: a channel deleted meanwhile took its state with it, and nothing
    // is kept for it (a failed foreign key would end a PostgreSQL transaction); nor for a
    // channel that moved elsewhere meanwhile (see RememberedState.destination).
    const value = s.value;
    await k
      .insertInto('channel_state')
      .columns(['channel_id', 'state_key', 'value', 'updated_at'])
      .expression((eb) =>
        eb
          .selectFrom('notification_channels')
          .select([
            'id as channel_id',
            // Typed: PostgreSQL reads a bare parameter in a select list as text.
            sql<string>`CAST(${s.key} AS text)`.as('state_key'),
            sql<string>`CAST(${value} AS text)`.as('value'),
            sql<number>`CAST(${now} AS bigint)`.as('updated_at'),
          ])
          .where('id', '=', s.channelId)
          // Sealed again on any change of the URL (a fresh nonce): a change that kept the same
          // address also drops the value, and the next notification starts afresh there.
          .where('url_sealed', '=', s.destination.url_sealed)
          .where('config', '=', s.destination.config),
      )
      .onConflict((oc) => oc.columns(['channel_id', 'state_key']).doUpdateSet({ value, updated_at: now }))
      .execute();
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
