import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * A channel muted until a time (epoch ms), like an Alertmanager silence: events while it is
 * muted are recorded as skipped deliveries, not sent. Null, as every existing channel has, is
 * not muted.
 */
export function channelMutes(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema.alterTable('notification_channels').addColumn('muted_until', 'bigint').execute();
    },
  };
}
