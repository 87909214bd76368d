import { isPending } from '../storage/deliveries-repo.js';
import type { Db } from '../storage/database.js';

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
