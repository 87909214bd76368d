import type { Kysely } from 'kysely';
import type { EventData } from '../core/events.js';
import type { Dialect } from './database.js';
import type { Database } from './schema.js';

/**
 * Writes an event row inside the caller's transaction: the event exists if and only if the
 * change that caused it was committed. Returns how many deliveries it queued.
 */
export async function recordEvent(
  trx: Kysely<Database>,
  _dialect: Dialect,
  organizationId: number,
  data: EventData,
): Promise<{ eventId: number; queued: number }> {
  const row = await trx
    .insertInto('events')
    .values({
      organization_id: organizationId,
      run_id: data.run?.run_id ?? null,
      type: data.type,
      data: JSON.stringify(data),
      created_at: Date.now(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { eventId: row.id, queued: 0 };
}
