import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * What the retention pass looks for, indexed: finished deliveries by age ((state, updated_at):
 * each batch is a short range read, where it walked the whole table in id ranges), and events
 * by age (the pass deletes old events no delivery refers to any more).
 */
export function retentionIndexes(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema
        .createIndex('deliveries_state_updated')
        .on('deliveries')
        .columns(['state', 'updated_at'])
        .execute();
      await k.schema.createIndex('events_created').on('events').column('created_at').execute();
    },
    async down(k: AnyKysely) {
      await k.schema.dropIndex('deliveries_state_updated').execute();
      await k.schema.dropIndex('events_created').execute();
    },
  };
}
