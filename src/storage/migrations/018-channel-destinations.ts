import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * Which destination a channel sends to, as a number that changes only when the channel is
 * pointed elsewhere (its URL, or a setting its type counts as part of the address). What the
 * channel remembers (a Grafana annotation's id) belongs to one destination: it was matched on
 * the sealed URL and settings, which a key rotation re-seals, so a rotation forgot every
 * channel's state. Every existing channel starts at 0: its state stays with it.
 */
export function channelDestinations(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema
        .alterTable('notification_channels')
        .addColumn('destination_version', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
    async down(k: AnyKysely) {
      await k.schema.alterTable('notification_channels').dropColumn('destination_version').execute();
    },
  };
}
