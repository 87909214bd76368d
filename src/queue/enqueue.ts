import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { EventData } from '../core/events.js';
import { channelMatches } from '../core/filters.js';
import { channelFilter } from '../storage/channels-repo.js';
import type { Database } from '../storage/schema.js';
import type { Db } from '../storage/database.js';
import { inIds, insertRows } from '../storage/bulk-params.js';
import { insertAttemptStarts } from './attempts.js';
import type { ClaimedDelivery, DeliveryTaker, Handoff } from './handoff.js';
import { AppError, notFound } from '../core/errors.js';
import { isTerminal, transition, type RunResult, type RunStatus } from '../core/run-status.js';
import type { RunSummary } from '../core/events.js';
import { selectRuns, snapshot, type RunRow } from '../storage/runs-repo.js';
import type { RunsTable } from '../storage/schema.js';
import { notifyDeliveriesQueued } from './notify.js';
import { DELIVERY_COLUMNS, deliveryValues, newWebhookId, pendingDelivery } from './rows.js';

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

export interface StatusChange {
  status: RunStatus;
  result?: RunResult | null;
  summary?: RunSummary | null;
}

/**
 * Moves a run and, in the same transaction, records the event (and its deliveries) that the
 * move emits. The run row is locked first so two concurrent changes to one run serialise:
 * exactly one of two racing `finished` requests emits `test.finished`.
 */
export async function changeRunStatus(
  db: Db,
  runId: number,
  change: StatusChange,
  taker?: DeliveryTaker | null,
): Promise<{ run: RunRow; changed: boolean; queued: number; waiting: number }> {
  return transactionWithHandoff(db, taker, async (trx, handoff) => {
    let lock = selectRuns(trx).where('runs.id', '=', runId);
    if (db.dialect === 'postgres') lock = lock.forUpdate('runs');
    const current = await lock.executeTakeFirst();
    if (!current) throw notFound('run');
    const outcome = transition(current.status as RunStatus, change.status, change.result);
    if (outcome.kind === 'noop') return { run: current, changed: false, queued: 0, waiting: 0 };
    if (outcome.kind === 'invalid_transition') throw new AppError(409, 'invalid_transition', outcome.message);
    if (outcome.kind === 'invalid_result') {
      throw new AppError(400, 'invalid_result', outcome.message, [
        { field: 'result', message: outcome.message },
      ]);
    }
    const now = Date.now();
    const set: Partial<Omit<RunsTable, 'id'>> = { status: outcome.status, result: outcome.result };
    if (outcome.status === 'running') set.started_at = now;
    if (isTerminal(outcome.status)) set.ended_at = now;
    if (change.summary) set.summary = JSON.stringify(change.summary);
    await trx.updateTable('runs').set(set).where('id', '=', runId).execute();
    // The row as written, without reading it back: the lock keeps anyone else from changing it.
    const run: RunRow = { ...current, ...set };
    if (!outcome.event) return { run, changed: true, queued: 0, waiting: 0 };
    const data: EventData = { type: outcome.event, run: snapshot(run) };
    const recorded = await recordEvent(trx, run.organization_id, data, { handoff });
    return { run, changed: true, queued: recorded.deliveryIds.length, waiting: recorded.waiting };
  });
}
