import type { Migration } from 'kysely';
import type { Db } from '../database.js';
import { withId, type AnyKysely } from './helpers.js';

/**
 * Alerts for an organization's owners and admins when its notifications fail (a channel
 * disabled, deliveries failed for good): written in the transaction that recorded the failure,
 * mailed and sent to the operations channel afterwards by whichever process claims them
 * (`dispatch_state`, `claimed_until`), shown in the web app until dismissed.
 *
 * `organizations.operations_channel_id` names the channel that also hears of them. No foreign
 * key, like `load_tests.baseline_run_id`: channels reference organizations already, and a
 * channel that is gone is read as none.
 */
export function operatorAlerts(db: Db): Migration {
  return {
    async up(k: AnyKysely) {
      await withId(db, k.schema.createTable('operator_alerts'))
        .addColumn('organization_id', 'bigint', (c) =>
          c.notNull().references('organizations.id').onDelete('cascade'),
        )
        .addColumn('channel_id', 'bigint', (c) =>
          c.notNull().references('notification_channels.id').onDelete('cascade'),
        )
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('window_at', 'bigint', (c) => c.notNull())
        .addColumn('dispatch_state', 'text', (c) => c.notNull().defaultTo('waiting'))
        .addColumn('dispatch_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('claimed_until', 'bigint')
        .addColumn('operations_queued', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('mailed_at', 'bigint')
        .addColumn('mail_error', 'text')
        .addColumn('dismissed_at', 'bigint')
        .execute();
      // The dispatcher's look for what is due, and its wake-up time.
      await k.schema
        .createIndex('operator_alerts_due')
        .on('operator_alerts')
        .columns(['dispatch_state', 'window_at'])
        .execute();
      // The banner: an organization's open alerts, newest first.
      await k.schema
        .createIndex('operator_alerts_open')
        .on('operator_alerts')
        .columns(['organization_id', 'dismissed_at', 'id'])
        .execute();
      // Coalescing a channel's failures, and a channel's deletion cascading.
      await k.schema
        .createIndex('operator_alerts_channel')
        .on('operator_alerts')
        .columns(['channel_id', 'kind', 'dispatch_state'])
        .execute();
      await k.schema.alterTable('organizations').addColumn('operations_channel_id', 'bigint').execute();
    },
  };
}
