import { sql } from 'kysely';
import type { Db } from '../storage/database.js';

/**
 * When the queue next needs a look without being told: the earliest time a pending delivery
 * falls due, or, for one leased now, when its lease runs out (its process may have died, and
 * another takes it over then). A delivery behind an earlier pending one of its run and channel
 * is left out: the earlier one's time is what counts for it (a due follower counted here had
 * an idle engine looking every 50 ms while the one ahead waited for its retry). Null when
 * nothing is pending.
 */
export async function nextLookAt(db: Db, now: number): Promise<number | null> {
  const { rows } = await sql<{ at: number | string | null }>`
    SELECT min(CASE WHEN p.lease_until IS NOT NULL AND p.lease_until >= ${now} THEN p.lease_until
      ELSE p.next_attempt_at END) AS at
    FROM deliveries p
    WHERE p.state = 'pending'
      AND (p.run_id IS NULL OR (SELECT q.id FROM deliveries q
        WHERE q.channel_id = p.channel_id AND q.run_id = p.run_id AND q.id < p.id AND q.state = 'pending'
        LIMIT 1) IS NULL)`.execute(db.kysely);
  const at = rows[0]?.at;
  return at == null ? null : Number(at);
}
