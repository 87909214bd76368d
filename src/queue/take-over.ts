import { sql, type Kysely } from 'kysely';
import { inIds } from '../storage/bulk-params.js';
import type { Dialect } from '../storage/database.js';
import type { Database } from '../storage/schema.js';

/** The delivery log's reason for an attempt whose worker stopped before recording its outcome. */
export const INTERRUPTED_REASON =
  'no outcome recorded: the worker stopped or lost its lease before the answer came; sent again';

/**
 * Attempts are written when they end. A delivery whose lease ran out (or whose process died,
 * which on SQLite is every lease found at start) may have been on its way when its holder
 * stopped: its take-over logs that attempt as interrupted, with the request unknown, and
 * counts it, so the log shows what happened and the next attempt gets the next number.
 * Deliveries given back unsent (their lease cleared) are not taken over: they carry no lease.
 */
export async function recordTakeOvers(
  dialect: Dialect,
  trx: Kysely<Database>,
  deliveryIds: readonly number[],
  now: number,
): Promise<void> {
  if (deliveryIds.length === 0) return;
  const ids = inIds(dialect, 'd.id', deliveryIds);
  await sql`INSERT INTO delivery_attempts (delivery_id, number, request_id, started_at, request_url,
      request_headers, request_body, outcome, error)
    SELECT d.id, COALESCE((SELECT MAX(a.number) FROM delivery_attempts a WHERE a.delivery_id = d.id), 0) + 1,
      '', ${now}, c.url_redacted, '{}', '', 'interrupted', ${INTERRUPTED_REASON}
    FROM deliveries d JOIN notification_channels c ON c.id = d.channel_id
    WHERE ${ids}`.execute(trx);
  await sql`UPDATE deliveries
    SET attempts = (SELECT COALESCE(MAX(a.number), 0) FROM delivery_attempts a WHERE a.delivery_id = deliveries.id)
    WHERE ${inIds(dialect, 'id', deliveryIds)}`.execute(trx);
}
