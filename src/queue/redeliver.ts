import type { Kysely, Selectable } from 'kysely';
import type { Database, DeliveriesTable } from '../storage/schema.js';
import { notifyProcesses } from '../storage/notify.js';
import { pendingDelivery } from './rows.js';

/**
 * Queues a finished delivery again: a new delivery of the same event to the same channel,
 * with the same webhook-id, so receivers can de-duplicate. Returns the new delivery's id; the
 * caller wakes this process's engine (other processes hear the notification).
 */
export async function redeliver(k: Kysely<Database>, original: Selectable<DeliveriesTable>): Promise<number> {
  const { id } = await k
    .insertInto('deliveries')
    .values(
      pendingDelivery({
        event_id: original.event_id,
        channel_id: original.channel_id,
        organization_id: original.organization_id,
        run_id: original.run_id,
        event_type: original.event_type,
        webhook_id: original.webhook_id,
        redelivery_of: original.id,
      }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  await notifyProcesses(k, 'deliveries');
  return id;
}
