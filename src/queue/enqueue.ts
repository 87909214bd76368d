import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { EventData } from '../core/events.js';
import { channelMatches } from '../core/filters.js';
import { getChannelType } from '../channels/registry.js';
import { channelFilter } from '../storage/channels-repo.js';
import type { Database } from '../storage/schema.js';
import type { Db } from '../storage/database.js';
import { insertRows } from '../storage/bulk-params.js';
import { runKey, type ClaimedDelivery, type Handed, type HandoffOffer } from './handoff.js';
import { AppError, notFound } from '../core/errors.js';
import { isTerminal, transition, type RunResult, type RunStatus } from '../core/run-status.js';
import type { RunSummary } from '../core/events.js';
import { selectRuns, snapshot, type RunRow } from '../storage/runs-repo.js';
import type { RunsTable } from '../storage/schema.js';
import { notifyProcesses } from '../storage/notify.js';
import { DELIVERY_COLUMNS, deliveryValues, newWebhookId, pendingDelivery } from './rows.js';

export interface RecordOptions {
  /** Addresses one channel, enabled or not (the Test Hook). */
  onlyChannelId?: number;
  /** What the engine of this process offered to take (see HandoffOffer). */
  offer?: HandoffOffer | null;
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
  /** What was leased to the engine that offered, for it once the transaction commits. */
  handed: Handed | null;
}

/**
 * How one matching channel's new delivery is written: leased to this process's engine to send
 * now or to follow the run's delivery ahead of it, or left for a claim.
 */
type Placement = 'send' | 'follow' | 'behind' | 'later' | 'claim';

/** Decides each channel's placement from the engine's offer: data in, data out. */
function place(
  offer: HandoffOffer | null,
  channelIds: number[],
  runId: number | null,
  pendingAhead: ReadonlyMap<number, number>,
): Map<number, Placement> {
  const placed = new Map<number, Placement>();
  let budget = offer?.budget ?? 0;
  const room = new Map(offer?.room);
  const followRoom = new Map<string, number>();
  for (const channelId of channelIds) {
    const ahead = pendingAhead.get(channelId) ?? 0;
    if (!offer) {
      placed.set(channelId, ahead > 0 ? 'behind' : 'claim');
      continue;
    }
    if (ahead > 0) {
      // Held here, every one of them, with one being sent: this one follows it from here.
      const key = runKey(channelId, runId!);
      const chain = offer.chains.get(key);
      const left = followRoom.get(key) ?? chain?.room ?? 0;
      if (chain && chain.held === ahead && left > 0) {
        followRoom.set(key, left - 1);
        placed.set(channelId, 'follow');
      } else placed.set(channelId, 'behind');
      continue;
    }
    const r = room.get(channelId) ?? offer.defaultRoom;
    if (offer.overflowed.has(channelId) || r <= 0) placed.set(channelId, 'later');
    else if (budget > 0) {
      budget--;
      room.set(channelId, r - 1);
      placed.set(channelId, 'send');
    } else placed.set(channelId, 'claim');
  }
  return placed;
}

/**
 * Why a channel's type will not send this event (ChannelType.skip), or null. A type that fails
 * to judge it skips that one channel with the reason: the status change and every other
 * channel's notifications go on.
 */
function typeSkips(type: string, data: EventData, config: string): string | null {
  const skip = getChannelType(type)?.skip;
  if (!skip) return null;
  try {
    return skip(data, JSON.parse(config) as Record<string, unknown>);
  } catch (err) {
    return `the channel could not judge this event: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * Writes an event row and one pending delivery per matching channel inside the caller's
 * transaction: the event and its deliveries exist if and only if the change that caused them
 * was committed (the outbox).
 *
 * With an offer from this process's engine, each delivery whose channel has room there is
 * written leased to it and returned, for the engine to send once the transaction commits;
 * no claim has to find it. A delivery behind an earlier pending one of the same run and
 * channel must wait for it: it follows it from this engine when the engine holds that run's
 * deliveries to the channel, else it waits for a claim, which keeps the order.
 */
export async function recordEvent(
  trx: Kysely<Database>,
  organizationId: number,
  data: EventData,
  options: RecordOptions = {},
): Promise<Recorded> {
  const { onlyChannelId } = options;
  const offer = options.offer ?? null;
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
  const dialect = trx.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
  // With each channel, how many deliveries of this run wait for it already (its next must
  // follow them): counted in the same statement, one round trip fewer per status change.
  let channels = trx
    .selectFrom('notification_channels as c')
    .selectAll('c')
    .select(
      runId === null
        ? sql<number>`0`.as('pending_ahead')
        : sql<number>`(SELECT COUNT(*) FROM ${dialect === 'sqlite' ? sql`deliveries AS p INDEXED BY deliveries_pending_order` : sql`deliveries AS p`}
            WHERE p.channel_id = c.id AND p.run_id = ${runId} AND p.state = 'pending')`.as('pending_ahead'),
    )
    .where('c.organization_id', '=', organizationId);
  channels =
    onlyChannelId === undefined
      ? channels.where('c.enabled', '=', 1)
      : channels.where('c.id', '=', onlyChannelId);
  const matching = (await channels.orderBy('c.id').execute()).filter((c) =>
    channelMatches(data, channelFilter(c)),
  );
  if (matching.length === 0) return { eventId, deliveryIds: [], waiting: 0, handed: null };
  // A muted channel's delivery is written skipped, to be seen in its log, and goes no further.
  // The Test Hook (one channel named) is the person trying it: it goes out muted or not. An
  // event the channel's type cannot send at all (a commit status for a run without a commit)
  // is written skipped the same way, with the type's reason, Test Hook or not.
  const skipped = new Map<number, string>();
  for (const c of matching) {
    const reason =
      onlyChannelId === undefined && c.muted_until !== null && c.muted_until > now
        ? 'muted'
        : typeSkips(c.type, data, c.config);
    if (reason !== null) skipped.set(c.id, reason);
  }
  const live = skipped.size === 0 ? matching : matching.filter((c) => !skipped.has(c.id));
  const pendingAhead = new Map(live.map((c) => [c.id, Number(c.pending_ahead)]));
  const placed = place(
    offer,
    live.map((c) => c.id),
    runId,
    pendingAhead,
  );
  const leased = (id: number) => placed.get(id) === 'send' || placed.get(id) === 'follow';
  const lease = offer ? { until: now + offer.leaseMs, owner: offer.workerId } : null;
  const webhookIds = new Map(matching.map((c) => [c.id, newWebhookId()]));
  const rows = await insertRows<{ id: number; channel_id: number }>(
    dialect,
    trx,
    'deliveries',
    DELIVERY_COLUMNS,
    matching.map((c) => {
      const row = pendingDelivery(
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
        lease && leased(c.id) ? lease : null,
      );
      const reason = skipped.get(c.id);
      return deliveryValues(reason === undefined ? row : { ...row, state: 'skipped', last_error: reason });
    }),
    ['id', 'channel_id'],
  );
  const ids = new Map(rows.map((r) => [Number(r.channel_id), Number(r.id)]));
  const delivery = (c: (typeof matching)[number]): ClaimedDelivery => ({
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
  });
  const of = (p: Placement) => matching.filter((c) => placed.get(c.id) === p);
  const handed: Handed | null = offer
    ? {
        send: of('send').map(delivery),
        follow: of('follow').map(delivery),
        behind: of('behind').map((c) => runKey(c.id, runId!)),
        later: of('later').map((c) => c.id),
      }
    : null;
  // Other processes may have room for what this one could not take: they are told.
  const waiting = of('claim').length;
  const unblocked = waiting + of('later').length;
  if (unblocked > 0) await notifyProcesses(trx, 'deliveries');
  return { eventId, deliveryIds: matching.map((c) => ids.get(c.id)!), waiting, handed };
}

export interface StatusChange {
  status: RunStatus;
  result?: RunResult | null;
  summary?: RunSummary | null;
}

export interface StatusChanged {
  run: RunRow;
  changed: boolean;
  queued: number;
  /** Deliveries a claim should look for (see Recorded). */
  waiting: number;
  /** What was leased to the engine that made `offer`, for it once this has returned. */
  handed: Handed | null;
}

/**
 * Moves a run and, in the same transaction, records the event (and its deliveries) that the
 * move emits. The run row is locked first so two concurrent changes to one run serialise:
 * exactly one of two racing `finished` requests emits `test.finished`. With `offer`, the
 * deliveries the engine of this process has room for are leased to it (see recordEvent).
 *
 * `seen` is the run as the caller has just read it (the status route reads it to authorize
 * the change). A move from it is written with an UPDATE that applies only while the run still
 * has that status and result, which spares the locked read: a run's status only moves forward,
 * so the same status means nobody has moved it since. When someone has, or when the change
 * would not move the run from `seen`, the run is read locked and judged as it is.
 */
export async function changeRunStatus(
  db: Db,
  runId: number,
  change: StatusChange,
  offer: HandoffOffer | null = null,
  seen: RunRow | null = null,
): Promise<StatusChanged> {
  return db.kysely.transaction().execute(async (trx) => {
    if (seen !== null && seen.id === runId) {
      const moved = await moveRun(trx, seen, change, offer, true);
      if (moved) return moved;
    }
    let lock = selectRuns(trx).where('runs.id', '=', runId);
    if (db.dialect === 'postgres') lock = lock.forUpdate('runs');
    const current = await lock.executeTakeFirst();
    if (!current) throw notFound('run');
    return (await moveRun(trx, current, change, offer, false))!;
  });
}

/**
 * The change applied to `current` in the caller's transaction. `unlocked`: `current` was read
 * before it, so only a move is written, and only while the row still has its status and result;
 * null when it is not a move or the row has moved meanwhile (the caller reads it locked).
 */
async function moveRun(
  trx: Kysely<Database>,
  current: RunRow,
  change: StatusChange,
  offer: HandoffOffer | null,
  unlocked: boolean,
): Promise<StatusChanged | null> {
  const outcome = transition(current.status as RunStatus, change.status, change.result);
  if (unlocked && outcome.kind !== 'move') return null;
  if (outcome.kind === 'noop') return { run: current, changed: false, queued: 0, waiting: 0, handed: null };
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
  let update = trx.updateTable('runs').set(set).where('id', '=', current.id);
  if (unlocked)
    update = update
      .where('status', '=', current.status)
      .where('result', current.result === null ? 'is' : '=', current.result);
  const { numUpdatedRows } = await update.executeTakeFirst();
  if (unlocked && Number(numUpdatedRows) !== 1) return null;
  // The row as written, without reading it back: the lock, or the condition, kept anyone else
  // from changing it.
  const run: RunRow = { ...current, ...set };
  if (!outcome.event) return { run, changed: true, queued: 0, waiting: 0, handed: null };
  const data: EventData = { type: outcome.event, run: snapshot(run) };
  const recorded = await recordEvent(trx, run.organization_id, data, { offer });
  return {
    run,
    changed: true,
    queued: recorded.deliveryIds.length,
    waiting: recorded.waiting,
    handed: recorded.handed,
  };
}

/** The Test Hook's event, to one channel (enabled or not), in a transaction of its own. */
export function recordTestEvent(
  db: Db,
  channel: { id: number; organization_id: number },
  offer: HandoffOffer | null = null,
): Promise<Recorded> {
  return db.kysely
    .transaction()
    .execute((trx) =>
      recordEvent(
        trx,
        channel.organization_id,
        { type: 'test.notification_channel', run: null },
        { onlyChannelId: channel.id, offer },
      ),
    );
}
