import { randomBytes } from 'node:crypto';
import { PostgresAdapter, sql, type Insertable, type Kysely } from 'kysely';
import type { EventData } from '../core/events.js';
import { channelMatches } from '../core/filters.js';
import { channelFilter } from './channels-repo.js';
import type { Database, DeliveriesTable } from './schema.js';

/** Standard Webhooks message id: one per event and channel, kept across retries and redeliveries. */
export const newWebhookId = () => `msg_${randomBytes(16).toString('base64url')}`;

type DeliveryIdentity = Pick<
  Insertable<DeliveriesTable>,
  'event_id' | 'channel_id' | 'organization_id' | 'run_id' | 'event_type' | 'webhook_id' | 'redelivery_of'
>;

/** A delivery row that is due now and has never been tried: fan-out and redelivery both make these. */
export function pendingDelivery(identity: DeliveryIdentity, now = Date.now()): Insertable<DeliveriesTable> {
  return {
    ...identity,
    state: 'pending',
    attempts: 0,
    next_attempt_at: now,
    lease_until: null,
    lease_owner: null,
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

/**
 * Writes an event row and one pending delivery per matching channel inside the caller's
 * transaction: the event and its deliveries exist if and only if the change that caused them
 * was committed (the outbox). `onlyChannelId` addresses one channel (the Test Hook).
 */
export async function recordEvent(
  trx: Kysely<Database>,
  organizationId: number,
  data: EventData,
  onlyChannelId?: number,
): Promise<{ eventId: number; deliveryIds: number[] }> {
  const now = Date.now();
  const { id: eventId } = await trx
    .insertInto('events')
    .values({
      organization_id: organizationId,
      run_id: data.run?.run_id ?? null,
      type: data.type,
      data: JSON.stringify(data),
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
  if (matching.length === 0) return { eventId, deliveryIds: [] };
  const rows = await trx
    .insertInto('deliveries')
    .values(
      matching.map((c) =>
        pendingDelivery(
          {
            event_id: eventId,
            channel_id: c.id,
            organization_id: organizationId,
            run_id: data.run?.run_id ?? null,
            event_type: data.type,
            webhook_id: newWebhookId(),
            redelivery_of: null,
          },
          now,
        ),
      ),
    )
    .returning('id')
    .execute();
  await notifyDeliveriesQueued(trx);
  return { eventId, deliveryIds: rows.map((r) => r.id) };
}
