import { sql } from 'kysely';
import { inIds } from '../storage/bulk-params.js';
import { isPending } from '../storage/deliveries-repo.js';
import type { Db } from '../storage/database.js';

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
