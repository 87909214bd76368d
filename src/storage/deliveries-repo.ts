import { sql, type Kysely } from 'kysely';
import type { Database, DeliveriesTable, DeliveryAttemptsTable, DeliveryState } from './schema.js';
import { keysetPage, type PageRequest } from './keyset-page.js';
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
    request_method: a.request_method,
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

/** A channel's deliveries, newest first, optionally in one state: the delivery log. */
export function listChannelDeliveries(
  k: Kysely<Database>,
  channelId: number,
  state: DeliveryState | undefined,
  request: PageRequest,
) {
  let q = k.selectFrom('deliveries').selectAll().where('channel_id', '=', channelId);
  if (state) q = q.where('state', '=', state);
  return keysetPage(q, 'id', 'desc', request);
}

/**
 * A channel's finished deliveries created in [since, until) in one of `states`, oldest first,
 * at most `limit` of them: what a replay sends again.
 */
export function channelDeliveriesBetween(
  k: Kysely<Database>,
  channelId: number,
  range: { since: number; until: number; states: readonly Exclude<DeliveryState, 'pending'>[] },
  limit: number,
) {
  return k
    .selectFrom('deliveries')
    .selectAll()
    .where('channel_id', '=', channelId)
    .where('created_at', '>=', range.since)
    .where('created_at', '<', range.until)
    .where('state', 'in', [...range.states])
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * A run's deliveries (the first 500), oldest first. Through the run's events (events_run, then
 * deliveries_event): no index of deliveries starts with run_id, and a scan of the whole
 * delivery history would answer as well.
 */
export function runDeliveries(k: Kysely<Database>, runId: number) {
  return k
    .selectFrom('deliveries')
    .selectAll()
    .where('event_id', 'in', (eb) => eb.selectFrom('events').select('id').where('run_id', '=', runId))
    .orderBy('id')
    .limit(500)
    .execute();
}

/**
 * For each pending delivery of a run among `rows`, the earlier pending delivery of the same run
 * to the same channel it waits behind (claims send a run's deliveries to a channel in order):
 * delivery id → the id it waits for. One probe of deliveries_pending_order per such row.
 */
export async function waitingBehind(
  k: Kysely<Database>,
  rows: readonly Pick<DeliveryRow, 'id' | 'state' | 'run_id'>[],
): Promise<Map<number, number>> {
  const ids = rows.filter((r) => r.state === 'pending' && r.run_id !== null).map((r) => r.id);
  if (ids.length === 0) return new Map();
  const found = await k
    .selectFrom('deliveries as p')
    .select((eb) => [
      'p.id',
      eb
        .selectFrom('deliveries as q')
        .select('q.id')
        .whereRef('q.channel_id', '=', 'p.channel_id')
        .whereRef('q.run_id', '=', 'p.run_id')
        .whereRef('q.id', '<', 'p.id')
        .where(sql<boolean>`q.state = 'pending'`)
        .orderBy('q.id')
        .limit(1)
        .as('behind'),
    ])
    .where('p.id', 'in', ids)
    .execute();
  return new Map(
    found.filter((f) => f.behind !== null).map((f) => [Number(f.id), Number(f.behind)] as [number, number]),
  );
}

/** The redeliveries of a delivery (through its event: deliveries_event), oldest first. */
export async function redeliveriesOf(k: Kysely<Database>, d: Pick<DeliveryRow, 'id' | 'event_id'>) {
  const rows = await k
    .selectFrom('deliveries')
    .select('id')
    .where('event_id', '=', d.event_id)
    .where('redelivery_of', '=', d.id)
    .orderBy('id')
    .execute();
  return rows.map((r) => Number(r.id));
}

/** The highest delivery id so far (0 with none): where a retention pass stops looking. */
/**
 * Ids of finished deliveries last changed before `before`, at most `limit`: one batch of a
 * retention pass, a range read of deliveries_state_updated per finished state.
 */
export async function finishedBefore(k: Kysely<Database>, before: number, limit: number): Promise<number[]> {
  const rows = await k
    .selectFrom('deliveries')
    .select('id')
    .where('state', 'in', ['delivered', 'failed', 'skipped'])
    .where('updated_at', '<', before)
    .limit(limit)
    .execute();
  return rows.map((r) => Number(r.id));
}

/**
 * Deletes finished deliveries and their attempts. Attempts explicitly rather than by the
 * foreign key's cascade: the count is reported, and nothing depends on SQLite's foreign_keys
 * pragma being on. Finished rows stay finished (a redelivery is a new row); the state check
 * is a safeguard.
 */
export async function deleteFinished(k: Kysely<Database>, ids: number[]) {
  return k.transaction().execute(async (trx) => {
    const a = await trx.deleteFrom('delivery_attempts').where('delivery_id', 'in', ids).executeTakeFirst();
    const d = await trx
      .deleteFrom('deliveries')
      .where('id', 'in', ids)
      .where('state', '!=', 'pending')
      .executeTakeFirst();
    return { attempts: Number(a.numDeletedRows), deliveries: Number(d.numDeletedRows) };
  });
}
