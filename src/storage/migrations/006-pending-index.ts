import { sql, type Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * The claim looks at each channel's oldest due deliveries (see claimDue). This index holds only
 * pending rows, so it stays as small as the queue however long the delivery history grows, and
 * both finding the channels with work and taking a channel's next rows are index probes.
 */
export function pendingIndex(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema
        .createIndex('deliveries_pending_channel')
        .on('deliveries')
        .columns(['channel_id', 'next_attempt_at', 'id'])
        .where(sql.ref('state'), '=', 'pending')
        .execute();
    },
    async down(k: AnyKysely) {
      await k.schema.dropIndex('deliveries_pending_channel').execute();
    },
  };
}
