import type { Kysely } from 'kysely';
import { insertRows } from '../storage/bulk-params.js';
import type { Db, Dialect } from '../storage/database.js';
import type { Database } from '../storage/schema.js';
import type { AttemptStart, ClaimedDelivery } from './handoff.js';

/**
 * Writes the first log row of each delivery's next attempt, as `start` renders it, and sets
 * `attempt_id` on each: the claim and the hand-off (recordEvent) both lease deliveries this way.
 */
export async function insertAttemptStarts(
  dialect: Dialect,
  trx: Kysely<Database>,
  ds: ClaimedDelivery[],
  start: (d: ClaimedDelivery) => AttemptStart,
): Promise<void> {
  if (ds.length === 0) return;
  const starts = ds.map((d) => {
    const s = start(d);
    return [
      d.id,
      d.attempts + 1,
      s.request_id,
      s.started_at,
      s.request_url,
      s.request_headers,
      s.request_body,
    ];
  });
  const inserted = await insertRows<{ id: number; delivery_id: number }>(
    dialect,
    trx,
    'delivery_attempts',
    ATTEMPT_START_COLUMNS,
    starts,
    ['id', 'delivery_id'],
  );
  const byDelivery = new Map(inserted.map((r) => [Number(r.delivery_id), Number(r.id)]));
  for (const d of ds) d.attempt_id = byDelivery.get(d.id) ?? null;
}

/**
 * Fills in the request of an attempt that was written without it, its template not rendered
 * yet (see prepareAttempt): before it is sent, so the log shows what is on its way. An attempt
 * that has an outcome already (taken over, and closed as interrupted) is left as it is.
 */
export async function recordAttemptRequest(db: Db, attemptId: number, s: AttemptStart): Promise<void> {
  await db.kysely
    .updateTable('delivery_attempts')
    .set({ request_url: s.request_url, request_headers: s.request_headers, request_body: s.request_body })
    .where('id', '=', attemptId)
    .where('outcome', 'is', null)
    .execute();
}

const ATTEMPT_START_COLUMNS = [
  ['delivery_id', 'bigint'],
  ['number', 'integer'],
  ['request_id', 'text'],
  ['started_at', 'bigint'],
  ['request_url', 'text'],
  ['request_headers', 'text'],
  ['request_body', 'text'],
] as const;
