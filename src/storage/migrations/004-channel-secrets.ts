import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * Channel types with settings beyond a URL (an SMTP password, a PagerDuty routing key) keep
 * their secret fields here: a JSON object of the field names, each value sealed like the URL.
 * The names stay readable so the API can say which secrets are set without opening them.
 */
export function channelSecrets(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema
        .alterTable('notification_channels')
        .addColumn('secrets_sealed', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
    },
  };
}
