import type { Migration } from 'kysely';
import type { Db } from '../database.js';
import { withId, type AnyKysely } from './helpers.js';

export function notifications(db: Db): Migration {
  return {
    async up(k: AnyKysely) {
      await withId(db, k.schema.createTable('notification_channels'))
        .addColumn('organization_id', 'bigint', (c) =>
          c.notNull().references('organizations.id').onDelete('cascade'),
        )
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('url_sealed', 'text', (c) => c.notNull())
        .addColumn('url_redacted', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('status_scheme', 'text', (c) => c.notNull())
        .addColumn('project_ids', 'text')
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('disabled_reason', 'text')
        .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await k.schema
        .createIndex('channels_org')
        .on('notification_channels')
        .column('organization_id')
        .execute();

      await withId(db, k.schema.createTable('deliveries'))
        .addColumn('event_id', 'bigint', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('channel_id', 'bigint', (c) =>
          c.notNull().references('notification_channels.id').onDelete('cascade'),
        )
        .addColumn('organization_id', 'bigint', (c) => c.notNull())
        .addColumn('run_id', 'bigint')
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('webhook_id', 'text', (c) => c.notNull())
        .addColumn('redelivery_of', 'bigint')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_until', 'bigint')
        .addColumn('lease_owner', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      // The claim query scans pending rows by due time; the ordering check looks up earlier
      // pending rows of the same channel and run.
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
      await k.schema
        .createIndex('deliveries_channel')
        .on('deliveries')
        .columns(['channel_id', 'id'])
        .execute();
      await k.schema.createIndex('deliveries_event').on('deliveries').column('event_id').execute();

      await withId(db, k.schema.createTable('delivery_attempts'))
        .addColumn('delivery_id', 'bigint', (c) =>
          c.notNull().references('deliveries.id').onDelete('cascade'),
        )
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('duration_ms', 'integer')
        .addColumn('request_url', 'text', (c) => c.notNull())
        .addColumn('request_headers', 'text', (c) => c.notNull())
        .addColumn('request_body', 'text', (c) => c.notNull())
        .addColumn('response_status', 'integer')
        .addColumn('response_headers', 'text')
        .addColumn('response_body', 'text')
        .addColumn('outcome', 'text')
        .addColumn('error', 'text')
        .execute();
      await k.schema
        .createIndex('attempts_delivery')
        .on('delivery_attempts')
        .columns(['delivery_id', 'number'])
        .execute();
    },
  };
}
