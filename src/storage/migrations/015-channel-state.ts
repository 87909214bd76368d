import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * What a channel remembers between notifications, under a key its type chooses: a Grafana
 * annotation's id from a run's start, for its end; the id of the pull-request comment GitHub
 * edits in place on each later run. Deleted with the channel, forgotten when its destination
 * changes, and by retention once not written for as long as deliveries are kept.
 */
export function channelState(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema
        .createTable('channel_state')
        .addColumn('channel_id', 'bigint', (c) =>
          c.notNull().references('notification_channels.id').onDelete('cascade'),
        )
        .addColumn('state_key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('channel_state_pk', ['channel_id', 'state_key'])
        .execute();
      await k.schema.createIndex('channel_state_updated').on('channel_state').column('updated_at').execute();
    },
    async down(k: AnyKysely) {
      await k.schema.dropTable('channel_state').execute();
    },
  };
}
