import type { Migration } from 'kysely';
import type { Db } from '../database.js';
import { withId, type AnyKysely } from './helpers.js';

/**
 * Schedules: a load test may carry a command (argv as a JSON array, never run through a shell),
 * a cron expression and its time zone. Each fired or skipped tick is a row of schedule_ticks;
 * the UNIQUE (load_test_id, tick_at) constraint is the lease that makes a tick fire once
 * however many server processes share the database.
 */
export function schedules(db: Db): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema.alterTable('load_tests').addColumn('schedule_command', 'text').execute();
      await k.schema.alterTable('load_tests').addColumn('schedule_cron', 'text').execute();
      await k.schema
        .alterTable('load_tests')
        .addColumn('schedule_timezone', 'text', (c) => c.notNull().defaultTo('UTC'))
        .execute();
      await k.schema
        .alterTable('load_tests')
        .addColumn('schedule_enabled', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await k.schema.alterTable('load_tests').addColumn('schedule_timeout_ms', 'bigint').execute();
      await k.schema
        .createIndex('load_tests_schedule_enabled')
        .on('load_tests')
        .column('schedule_enabled')
        .execute();

      await withId(db, k.schema.createTable('schedule_ticks'))
        .addColumn('load_test_id', 'bigint', (c) =>
          c.notNull().references('load_tests.id').onDelete('cascade'),
        )
        .addColumn('tick_at', 'bigint', (c) => c.notNull())
        .addColumn('fired_by', 'text', (c) => c.notNull())
        .addColumn('run_id', 'bigint', (c) => c.references('runs.id').onDelete('set null'))
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('schedule_ticks_lease', ['load_test_id', 'tick_at'])
        .execute();
      await k.schema
        .createIndex('schedule_ticks_created')
        .on('schedule_ticks')
        .column('created_at')
        .execute();
    },
  };
}
