import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Deletes up to `limit` events recorded before `before` that no delivery refers to any more
 * (their deliveries were pruned, or no channel matched): one batch of a retention pass. An
 * event with a delivery left, pending or kept, stays: the delivery log shows it.
 */
export async function deleteUnreferencedEvents(
  k: Kysely<Database>,
  before: number,
  limit: number,
): Promise<number> {
  const ids = (
    await k
      .selectFrom('events')
      .select('id')
      .where('created_at', '<', before)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('deliveries')
              .select('deliveries.id')
              .whereRef('deliveries.event_id', '=', 'events.id'),
          ),
        ),
      )
      .limit(limit)
      .execute()
  ).map((r) => Number(r.id));
  if (ids.length === 0) return 0;
  const deleted = await k
    .deleteFrom('events')
    .where('id', 'in', ids)
    // A delivery made for one of them meanwhile (a redelivery) keeps it.
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('deliveries').select('deliveries.id').whereRef('deliveries.event_id', '=', 'events.id'),
        ),
      ),
    )
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
