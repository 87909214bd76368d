import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * k6 Cloud's event identifiers on a channel (`event_types`, a JSON list), as an alternative to
 * the `events` object. Null, as every existing channel has, means the `events` object decides.
 */
export function eventTypes(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema.alterTable('notification_channels').addColumn('event_types', 'text').execute();
    },
  };
}
