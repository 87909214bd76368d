import { sql, type Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * The due-time and ordering indexes hold only pending rows, as deliveries_pending_channel does.
 * Only the queue reads them: the claim's ordering check, the hand-off's, and the next due time
 * all ask about pending rows. Over the whole history they had an entry for every delivery
 * ever made, so each new delivery touched a leaf page per channel for the ordering index alone
 * (a status change to ten channels wrote ten of them), and each finished one moved its due
 * entry. Holding the queue only, they stay a few pages, written over and over in the cache.
 * On PostgreSQL the same keeps delivered rows out of what the claim walks.
 */
export function pendingPartialIndexes(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema.dropIndex('deliveries_due').execute();
      await k.schema.dropIndex('deliveries_order').execute();
      await k.schema
        .createIndex('deliveries_pending_due')
        .on('deliveries')
        .column('next_attempt_at')
        .where(sql.ref('state'), '=', 'pending')
        .execute();
      await k.schema
        .createIndex('deliveries_pending_order')
        .on('deliveries')
        .columns(['channel_id', 'run_id', 'id'])
        .where(sql.ref('state'), '=', 'pending')
        .execute();
    },
    async down(k: AnyKysely) {
      await k.schema.dropIndex('deliveries_pending_due').execute();
      await k.schema.dropIndex('deliveries_pending_order').execute();
      await k.schema
        .createIndex('deliveries_due')
        .on('deliveries')
        .columns(['state', 'next_attempt_at'])
        .execute();
      await k.schema
        .createIndex('deliveries_order')
        .on('deliveries')
        .columns(['channel_id', 'run_id', 'id'])
        .execute();
    },
  };
}
