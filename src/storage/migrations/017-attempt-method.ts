import type { Migration } from 'kysely';
import type { AnyKysely } from './helpers.js';

/**
 * The HTTP method of each attempt's request (a Grafana annotation is made with POST and closed
 * with PATCH, a GitHub comment edited with PATCH): the delivery log showed where a request went
 * but not what it asked. Null for attempts logged before this migration, for mail, and for
 * attempts that sent nothing (a render failure, an interrupted attempt).
 */
export function attemptMethod(): Migration {
  return {
    async up(k: AnyKysely) {
      await k.schema.alterTable('delivery_attempts').addColumn('request_method', 'text').execute();
    },
    async down(k: AnyKysely) {
      await k.schema.alterTable('delivery_attempts').dropColumn('request_method').execute();
    },
  };
}
