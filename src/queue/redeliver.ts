import type { Kysely, Selectable } from 'kysely';
import type { Database, DeliveriesTable } from '../storage/schema.js';
import { notifyProcesses } from '../storage/notify.js';
import { pendingDelivery } from './rows.js';

/**
 * Queues finished deliveries again: for each, a new delivery of the same event to the same
 * channel, with the same webhook-id, so receivers can de-duplicate. Returns the new
 * deliveries' ids in the originals' order; the caller wakes this process's engine (other
 * processes hear the one notification).
 */
export async function redeliverAll(
  k: Kysely<Database>,
  originals: readonly Selectable<DeliveriesTable>[],
): Promise<number[]> {
  if (originals.length === 0) return [];
  const now = Date.now();
  const rows = await k
    .insertInto('deliveries')
    .values(
      originals.map((original) =>
        pendingDelivery(
          {
            event_id: original.event_id,
            channel_id: original.channel_id,
            organization_id: original.organization_id,
            run_id: original.run_id,
            event_type: original.event_type,
            webhook_id: original.webhook_id,
            redelivery_of: original.id,
          },
          now,
        ),
      ),
    )
    .returning(['id', 'redelivery_of'])
    .execute();
  await notifyProcesses(k, 'deliveries');
  const byOriginal = new Map(rows.map((r) => [Number(r.redelivery_of), Number(r.id)]));
  return originals.map((o) => byOriginal.get(o.id)!);
}

/** Queues one finished delivery again (see redeliverAll); returns the new delivery's id. */
export async function redeliver(k: Kysely<Database>, original: Selectable<DeliveriesTable>): Promise<number> {
  const [id] = await redeliverAll(k, [original]);
  return id!;
}
