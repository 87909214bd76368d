import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * Standard Webhooks signing secrets, sealed like the URL. The previous secret keeps signing
 * until its expiry after a rotation, so receivers can switch over without losing a delivery.
 * Channels created before this migration have none and stay unsigned, as the documents send.
 */
export function signingSecrets(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema.alterTable('notification_channels').addColumn('signing_secret_sealed', 'text').execute();
      await k.schema.alterTable('notification_channels').addColumn('signing_created_at', 'bigint').execute();
      await k.schema
        .alterTable('notification_channels')
        .addColumn('signing_previous_sealed', 'text')
        .execute();
      await k.schema
        .alterTable('notification_channels')
        .addColumn('signing_previous_expires_at', 'bigint')
        .execute();
    },
  };
}
