import { randomBytes } from 'node:crypto';
import { PostgresAdapter, sql, type Insertable, type Kysely } from 'kysely';
import type { EventData } from '../core/events.js';
import { channelMatches } from '../core/filters.js';
import { channelFilter } from './channels-repo.js';
import type { Database, DeliveriesTable } from './schema.js';
import type { Db } from './database.js';
import { inIds, insertRows, type ColumnType } from './bulk-params.js';
import {
  insertAttemptStarts,
  type ClaimedDelivery,
  type DeliveryTaker,
  type Handoff,
} from '../delivery/claims.js';

const ID_BYTES = 16;
let idPool = Buffer.alloc(0);
let idOffset = 0;

/**
 * Standard Webhooks message id: one per event and channel, kept across retries and
 * redeliveries. 128 random bits, drawn from the CSPRNG 256 ids at a time: a call per id took
 * 12 us of each delivery in a profile of the service, about 3% of its CPU.
 */
export function newWebhookId(): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 256);
    idOffset = 0;
  }
  const id = idPool.toString('base64url', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return `msg_${id}`;
}

type DeliveryIdentity = Pick<
  Insertable<DeliveriesTable>,
  'event_id' | 'channel_id' | 'organization_id' | 'run_id' | 'event_type' | 'webhook_id' | 'redelivery_of'
>;

/** Who holds a delivery written leased: the engine of this process (see Handoff). */
export interface Lease {
  until: number;
  owner: string;
}

/**
 * A delivery row that is due now and has never been tried: fan-out and redelivery both make
 * these. Every field is written out (no spread), so all rows share one shape.
 */
export function pendingDelivery(
  identity: DeliveryIdentity,
  now = Date.now(),
  lease: Lease | null = null,
): Insertable<DeliveriesTable> {
  return {
    event_id: identity.event_id,
    channel_id: identity.channel_id,
    organization_id: identity.organization_id,
    run_id: identity.run_id ?? null,
    event_type: identity.event_type,
    webhook_id: identity.webhook_id,
    redelivery_of: identity.redelivery_of ?? null,
    state: 'pending',
    attempts: 0,
    next_attempt_at: now,
    lease_until: lease?.until ?? null,
    lease_owner: lease?.owner ?? null,
    last_error: null,
    created_at: now,
    updated_at: now,
  };
}

/** The PostgreSQL notification channel that says "deliveries were queued". */
export const DELIVERIES_CHANNEL = 'loadnotify_deliveries';

/**
 * Tells every worker process that deliveries were queued. Inside a transaction the notification
 * is sent on commit (and dropped on rollback), so a woken worker always finds the rows. SQLite
 * has one process, woken in-process, so this is a no-op there.
 */
export async function notifyDeliveriesQueued(k: Kysely<Database>): Promise<void> {
  if (!(k.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`SELECT pg_notify(${DELIVERIES_CHANNEL}, '')`.execute(k);
}

export interface RecordOptions {
  /** Addresses one channel, enabled or not (the Test Hook). */
  onlyChannelId?: number;
  /** The engine of this process, to take the deliveries as they are written (see Handoff). */
  handoff?: Handoff | null;
}

export interface Recorded {
  eventId: number;
  deliveryIds: number[];
  /**
   * Deliveries a claim should look for now: not handed off, not waiting behind an earlier
   * delivery of their run (the earlier one's end frees them), and not left for later by a
   * busy channel of this process's engine (a free slot there brings the claim).
   */
  waiting: number;
}

/** Every column of a delivery row, in the order insertRows takes them (see deliveryValues). */
export const DELIVERY_COLUMNS = [
  ['event_id', 'bigint'],
  ['channel_id', 'bigint'],
  ['organization_id', 'bigint'],
  ['run_id', 'bigint'],
  ['event_type', 'text'],
  ['webhook_id', 'text'],
  ['redelivery_of', 'bigint'],
  ['state', 'text'],
  ['attempts', 'integer'],
  ['next_attempt_at', 'bigint'],
  ['lease_until', 'bigint'],
  ['lease_owner', 'text'],
  ['last_error', 'text'],
  ['created_at', 'bigint'],
  ['updated_at', 'bigint'],
] as const satisfies readonly (readonly [keyof Insertable<DeliveriesTable>, ColumnType])[];

/**
 * A delivery row's values in DELIVERY_COLUMNS order, field by field. The row spread from its
 * identity, a lease assigned onto it and each column looked up by name cost 13 us a row in a
 * micro-benchmark (8 us of each delivery in a profile of the service); this way, 0.03 us.
 */
export function deliveryValues(r: Insertable<DeliveriesTable>): unknown[] {
  return [
    r.event_id,
    r.channel_id,
    r.organization_id,
    r.run_id ?? null,
    r.event_type,
    r.webhook_id,
    r.redelivery_of ?? null,
    r.state ?? null,
    r.attempts ?? null,
    r.next_attempt_at,
    r.lease_until ?? null,
    r.lease_owner ?? null,
    r.last_error ?? null,
    r.created_at,
    r.updated_at,
  ];
}

/**
 * Writes an event row and one pending delivery per matching channel inside the caller's
 * transaction: the event and its deliveries exist if and only if the change that caused them
 * was committed (the outbox).
 *
 * With a hand-off, each delivery whose channel has a free send slot in this process is
 * written leased to its engine, with its first attempt, unless an earlier delivery of the
 * same run to that channel is still pending: that one must be heard first, so the new one
 * waits for a claim, which keeps the order.
 */
export async function recordEvent(
  trx: Kysely<Database>,
  organizationId: number,
  data: EventData,
  options: RecordOptions = {},
): Promise<Recorded> {
  const { onlyChannelId, handoff } = options;
  const now = Date.now();
  const eventData = JSON.stringify(data);
  const runId = data.run?.run_id ?? null;
  const { id: eventId } = await trx
    .insertInto('events')
    .values({
      organization_id: organizationId,
      run_id: runId,
      type: data.type,
      data: eventData,
      created_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  let channels = trx
    .selectFrom('notification_channels')
    .selectAll()
    .where('organization_id', '=', organizationId);
  channels =
    onlyChannelId === undefined
      ? channels.where('enabled', '=', 1)
      : channels.where('id', '=', onlyChannelId);
  const matching = (await channels.orderBy('id').execute()).filter((c) =>
    channelMatches(data, channelFilter(c)),
  );
  if (matching.length === 0) return { eventId, deliveryIds: [], waiting: 0 };
  const dialect = trx.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
  let taken = new Set<number>();
  let blocked = new Set<number>();
  let later = new Set<number>();
  if (handoff) {
    let open = matching.map((c) => c.id);
    if (runId !== null) {
      const { rows } = await sql<{ channel_id: number; n: number }>`
        SELECT channel_id, COUNT(*) AS n FROM ${dialect === 'sqlite' ? sql`deliveries INDEXED BY deliveries_pending_order` : sql`deliveries`}
        WHERE ${inIds(dialect, 'channel_id', open)} AND run_id = ${runId} AND state = 'pending'
        GROUP BY channel_id`.execute(trx);
      const pending = new Map(rows.map((r) => [Number(r.channel_id), Number(r.n)]));
      blocked = new Set(pending.keys());
      open = open.filter((id) => !blocked.has(id));
      // Taken too: written leased here, to be sent after the delivery ahead of them.
      taken = pending.size > 0 ? handoff.follow(pending, runId) : taken;
      const behind = [...blocked].filter((id) => !taken.has(id));
      if (behind.length > 0) handoff.behind(behind, runId);
    }
    const reserved = handoff.reserve(open);
    for (const id of reserved.taken) taken.add(id);
    later = reserved.later;
  }
  const lease = handoff ? { until: now + handoff.leaseMs, owner: handoff.workerId } : null;
  const webhookIds = new Map(matching.map((c) => [c.id, newWebhookId()]));
  const rows = await insertRows<{ id: number; channel_id: number }>(
    dialect,
    trx,
    'deliveries',
    DELIVERY_COLUMNS,
    matching.map((c) =>
      deliveryValues(
        pendingDelivery(
          {
            event_id: eventId,
            channel_id: c.id,
            organization_id: organizationId,
            run_id: runId,
            event_type: data.type,
            webhook_id: webhookIds.get(c.id)!,
            redelivery_of: null,
          },
          now,
          lease && taken.has(c.id) ? lease : null,
        ),
      ),
    ),
    ['id', 'channel_id'],
  );
  const ids = new Map(rows.map((r) => [Number(r.channel_id), Number(r.id)]));
  if (handoff && taken.size > 0) {
    const mine: ClaimedDelivery[] = matching
      .filter((c) => taken.has(c.id))
      .map((c) => ({
        id: ids.get(c.id)!,
        event_id: eventId,
        channel_id: c.id,
        run_id: runId,
        event_type: data.type,
        webhook_id: webhookIds.get(c.id)!,
        attempts: 0,
        event_data: eventData,
        event_created_at: now,
        channel: c,
        attempt_id: null,
      }));
    await insertAttemptStarts(dialect, trx, mine, (d) => handoff.start(d));
    handoff.written(mine);
  }
  // Other processes may have room for what this one could not take: they are told. (Taken
  // and blocked overlap in the followers.)
  const unblocked = matching.filter((c) => !taken.has(c.id) && !blocked.has(c.id)).length;
  if (unblocked > 0) await notifyDeliveriesQueued(trx);
  const waiting = unblocked - later.size;
  return { eventId, deliveryIds: matching.map((c) => ids.get(c.id)!), waiting };
}

/**
 * Runs `fn` in a transaction with a hand-off from `taker` (none when it is null or stopping),
 * then gives the hand-off its end: commit once the transaction has committed, abort otherwise.
 */
export async function transactionWithHandoff<T>(
  db: Db,
  taker: DeliveryTaker | null | undefined,
  fn: (trx: Kysely<Database>, handoff: Handoff | null) => Promise<T>,
): Promise<T> {
  const handoff = taker?.begin() ?? null;
  let result: T;
  try {
    result = await db.kysely.transaction().execute((trx) => fn(trx, handoff));
  } catch (err) {
    handoff?.abort();
    throw err;
  }
  handoff?.commit();
  return result;
}
