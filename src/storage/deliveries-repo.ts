import { sql, type Kysely } from 'kysely';
import type { Database, DeliveriesTable, DeliveryAttemptsTable } from './schema.js';
import { iso } from './time.js';

type DeliveryRow = Omit<DeliveriesTable, 'id'> & { id: number };
type AttemptRow = Omit<DeliveryAttemptsTable, 'id'> & { id: number };

/**
 * `state = 'pending'` with the value in the SQL text, not bound: SQLite plans a statement
 * before its values are bound, so only then can it use the indexes that hold pending rows only.
 */
export const isPending = sql<boolean>`state = 'pending'`;

export function deliveryView(d: DeliveryRow) {
  return {
    id: d.id,
    channel_id: d.channel_id,
    event_id: d.event_id,
    event_type: d.event_type,
    run_id: d.run_id,
    webhook_id: d.webhook_id,
    redelivery_of: d.redelivery_of,
    state: d.state,
    attempts: d.attempts,
    // Leased to a worker: on its way now. Attempts are logged as they end, so an attempt in
    // flight shows here, not yet in the list of attempts.
    sending: d.state === 'pending' && d.lease_until !== null && d.lease_until > Date.now(),
    next_attempt_at: d.state === 'pending' ? iso(d.next_attempt_at) : null,
    last_error: d.last_error,
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
  };
}

export function attemptView(a: AttemptRow) {
  return {
    id: a.id,
    number: a.number,
    request_id: a.request_id,
    started_at: iso(a.started_at),
    duration_ms: a.duration_ms,
    request_url: a.request_url,
    request_headers: JSON.parse(a.request_headers) as Record<string, string>,
    request_body: a.request_body,
    response_status: a.response_status,
    response_headers: a.response_headers ? (JSON.parse(a.response_headers) as Record<string, string>) : null,
    response_body: a.response_body,
    outcome: a.outcome,
    error: a.error,
  };
}

export async function findDelivery(k: Kysely<Database>, id: number) {
  return k.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function attemptsOf(k: Kysely<Database>, deliveryId: number) {
  return k
    .selectFrom('delivery_attempts')
    .selectAll()
    .where('delivery_id', '=', deliveryId)
    .orderBy('number')
    .execute();
}
