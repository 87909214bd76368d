import { sql } from 'kysely';
import { inIds } from '../storage/bulk-params.js';
import { isPending } from '../storage/deliveries-repo.js';
import type { Db } from '../storage/database.js';
import { recordTakeOvers } from './take-over.js';

/**
 * Gives deliveries leased to `workerId` but never sent back to claims: their leases are
 * cleared, so the next claim takes them in their run's order, as attempts not yet made. A
 * delivery whose lease another worker has taken over meanwhile is left alone.
 */
export async function releaseUnsent(db: Db, workerId: string, deliveryIds: readonly number[]): Promise<void> {
  if (deliveryIds.length === 0) return;
  await sql`UPDATE deliveries SET lease_until = NULL, lease_owner = NULL
    WHERE ${inIds(db.dialect, 'id', deliveryIds)} AND lease_owner = ${workerId} AND state = 'pending'`.execute(
    db.kysely,
  );
}

/**
 * SQLite has one process: whatever it leased before it stopped is taken back at start, each
 * logged as an interrupted attempt (it may have been on its way), and claimed again.
 */
export async function takeBackAllLeases(db: Db): Promise<void> {
  await db.kysely.transaction().execute(async (trx) => {
    const leased = await trx
      .selectFrom('deliveries')
      .select('id')
      .where(isPending)
      .where('lease_owner', 'is not', null)
      .execute();
    const ids = leased.map((r) => Number(r.id));
    await recordTakeOvers(db.dialect, trx, ids, Date.now());
    if (ids.length === 0) return;
    await trx
      .updateTable('deliveries')
      .set({ lease_until: null, lease_owner: null })
      .where('id', 'in', ids)
      .execute();
  });
}
