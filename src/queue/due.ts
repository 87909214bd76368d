import { sql } from 'kysely';
import { isPending } from '../storage/deliveries-repo.js';
import type { Db } from '../storage/database.js';

/**
 * When the queue next needs a look without being told: the earliest time a pending delivery
 * falls due, or, for one leased now, when its lease runs out (its process may have died, and
 * another takes it over then). Null when nothing is pending.
 */
export async function nextLookAt(db: Db, now: number): Promise<number | null> {
  const at = sql<number | string | null>`min(CASE
    WHEN lease_until IS NOT NULL AND lease_until >= ${now} THEN lease_until
    ELSE next_attempt_at END)`;
  const row = await db.kysely
    .selectFrom('deliveries')
    .select(at.as('at'))
    .where(isPending)
    .executeTakeFirst();
  return row?.at == null ? null : Number(row.at);
}
