import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { EventData } from '../core/events.js';
import { channelMatches } from '../core/filters.js';
import { getChannelType } from '../channels/registry.js';
import { channelFilter } from '../storage/channels-repo.js';
import type { Database } from '../storage/schema.js';
import type { Db, Dialect } from '../storage/database.js';
import { insertRows, unnestTable } from '../storage/bulk-params.js';
import { runKey, type ClaimedDelivery, type Handed, type HandoffOffer } from './handoff.js';
import { AppError, notFound } from '../core/errors.js';
import {
  isTerminal,
  transition,
  type RunEventType,
  type RunResult,
  type RunStatus,
} from '../core/run-status.js';
import type { RunSummary } from '../core/events.js';
import { selectRuns, snapshot, type RunRow } from '../storage/runs-repo.js';
import type { RunsTable } from '../storage/schema.js';
import type { ChannelRow } from '../storage/channels-repo.js';
import { NOTIFY_CHANNELS, notifyProcesses } from '../storage/notify.js';
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

/** A channel an event goes to, with how many deliveries of its run wait for it already. */
type PlannedChannel = ChannelRow & { pending_ahead: number };

/** Where an event goes and how each of its deliveries is written: read and decided, not yet written. */
interface EventPlan {
  organizationId: number;
  data: EventData;
  eventData: string;
  runId: number | null;
  now: number;
  offer: HandoffOffer | null;
  matching: PlannedChannel[];
  /** Deliveries written skipped, with why (a muted channel, a type that cannot send it). */
  skipped: Map<number, string>;
  placed: Map<number, Placement>;
  webhookIds: Map<number, string>;
}

/**
 * Reads the channels an event goes to and decides how each delivery is written (see
 * recordEvent). With each channel comes how many deliveries of this run wait for it already
 * (its next must follow them), counted in the same statement.
 */
async function planEvent(
  k: Kysely<Database>,
  dialect: Dialect,
  organizationId: number,
  data: EventData,
  options: RecordOptions,
  now: number,
): Promise<EventPlan> {
  const { onlyChannelId } = options;
  const offer = options.offer ?? null;
  const runId = data.run?.run_id ?? null;
  let channels = k
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
  const placed = place(
    offer,
    live.map((c) => c.id),
    runId,
    new Map(live.map((c) => [c.id, Number(c.pending_ahead)])),
  );
  return {
    organizationId,
    data,
    eventData: JSON.stringify(data),
    runId,
    now,
    offer,
    matching,
    skipped,
    placed,
    webhookIds: new Map(matching.map((c) => [c.id, newWebhookId()])),
  };
}

/** The plan's delivery rows for the event `eventId`, their values in DELIVERY_COLUMNS order. */
function deliveryRows(plan: EventPlan, eventId: number): unknown[][] {
  const { offer, now, placed, skipped } = plan;
  const lease = offer ? { until: now + offer.leaseMs, owner: offer.workerId } : null;
  const leased = (id: number) => placed.get(id) === 'send' || placed.get(id) === 'follow';
  return plan.matching.map((c) => {
    const row = pendingDelivery(
      {
        event_id: eventId,
        channel_id: c.id,
        organization_id: plan.organizationId,
        run_id: plan.runId,
        event_type: plan.data.type,
        webhook_id: plan.webhookIds.get(c.id)!,
        redelivery_of: null,
      },
      now,
      lease && leased(c.id) ? lease : null,
    );
    const reason = skipped.get(c.id);
    return deliveryValues(reason === undefined ? row : { ...row, state: 'skipped', last_error: reason });
  });
}

/** Deliveries other processes may take (left for a claim or for later here): they are told. */
const othersMayTake = (plan: EventPlan): boolean =>
  [...plan.placed.values()].some((p) => p === 'claim' || p === 'later');

/** What was written, for the caller and this process's engine. */
function recordedOf(
  plan: EventPlan,
  eventId: number,
  written: readonly [id: number, channelId: number][],
): Recorded {
  const { matching, placed, runId, offer } = plan;
  const ids = new Map(written.map(([id, channelId]) => [Number(channelId), Number(id)]));
  const delivery = (c: PlannedChannel): ClaimedDelivery => ({
    id: ids.get(c.id)!,
    event_id: eventId,
    channel_id: c.id,
    run_id: runId,
    event_type: plan.data.type,
    webhook_id: plan.webhookIds.get(c.id)!,
    attempts: 0,
    event_data: plan.eventData,
    event_created_at: plan.now,
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
  return { eventId, deliveryIds: matching.map((c) => ids.get(c.id)!), waiting: of('claim').length, handed };
}

const dialectOf = (k: Kysely<Database>): Dialect =>
  k.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';

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
  const dialect = dialectOf(trx);
  const plan = await planEvent(trx, dialect, organizationId, data, options, Date.now());
  const { id: eventId } = await trx
    .insertInto('events')
    .values({
      organization_id: organizationId,
      run_id: plan.runId,
      type: data.type,
      data: plan.eventData,
      created_at: plan.now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const rows = await insertRows<{ id: number; channel_id: number }>(
    dialect,
    trx,
    'deliveries',
    DELIVERY_COLUMNS,
    deliveryRows(plan, eventId),
    ['id', 'channel_id'],
  );
  if (othersMayTake(plan)) await notifyProcesses(trx, 'deliveries');
  return recordedOf(
    plan,
    eventId,
    rows.map((r) => [r.id, r.channel_id]),
  );
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
 * the change). A move from it is written only while the run still has that status and result,
 * which spares the locked read: a run's status only moves forward, so the same status means
 * nobody has moved it since. On PostgreSQL such a move and its event are one statement (see
 * moveAndRecord), outside any transaction. When the run has moved meanwhile, or when the
 * change would not move it from `seen`, the run is read locked and judged as it is.
 */
export async function changeRunStatus(
  db: Db,
  runId: number,
  change: StatusChange,
  offer: HandoffOffer | null = null,
  seen: RunRow | null = null,
): Promise<StatusChanged> {
  const fromSeen = seen !== null && seen.id === runId ? moveOf(seen, change, true) : null;
  if (db.dialect === 'postgres' && fromSeen?.event) {
    const done = await moveAndRecord(db.kysely, seen!, fromSeen, offer);
    if (done) return done;
  }
  return db.kysely.transaction().execute(async (trx) => {
    if (fromSeen && db.dialect === 'sqlite') {
      const moved = await moveRun(trx, seen!, fromSeen, offer, true);
      if (moved) return moved;
    }
    let lock = selectRuns(trx).where('runs.id', '=', runId);
    if (db.dialect === 'postgres') lock = lock.forUpdate('runs');
    const current = await lock.executeTakeFirst();
    if (!current) throw notFound('run');
    const move = moveOf(current, change, false);
    if (move === null) return { run: current, changed: false, queued: 0, waiting: 0, handed: null };
    return (await moveRun(trx, current, move, offer, false))!;
  });
}

/** A move of a run: the row as written, the columns that change, and the event it emits. */
interface Move {
  run: RunRow;
  set: Partial<Omit<RunsTable, 'id'>>;
  event: RunEventType | null;
}

/**
 * The change applied to `current`: the move, or null for a change that leaves it as it is.
 * `tentative` (`current` was read outside the transaction): null for anything but a move, to be
 * judged again on the locked row; otherwise a change that cannot be made throws (409, 400).
 */
function moveOf(current: RunRow, change: StatusChange, tentative: boolean): Move | null {
  const outcome = transition(current.status as RunStatus, change.status, change.result);
  if (outcome.kind === 'move') {
    const now = Date.now();
    const set: Move['set'] = { status: outcome.status, result: outcome.result };
    if (outcome.status === 'running') set.started_at = now;
    if (isTerminal(outcome.status)) set.ended_at = now;
    if (change.summary) set.summary = JSON.stringify(change.summary);
    // The row as written, without reading it back: the lock, or the condition on the status,
    // keeps anyone else from changing it.
    return { run: { ...current, ...set }, set, event: outcome.event };
  }
  if (tentative || outcome.kind === 'noop') return null;
  if (outcome.kind === 'invalid_transition') throw new AppError(409, 'invalid_transition', outcome.message);
  throw new AppError(400, 'invalid_result', outcome.message, [{ field: 'result', message: outcome.message }]);
}

/**
 * Writes `move` of `current` and records its event in the caller's transaction. `tentative`:
 * only while the row still has `current`'s status and result; null when it had moved.
 */
async function moveRun(
  trx: Kysely<Database>,
  current: RunRow,
  move: Move,
  offer: HandoffOffer | null,
  tentative: boolean,
): Promise<StatusChanged | null> {
  let update = trx.updateTable('runs').set(move.set).where('id', '=', current.id);
  if (tentative)
    update = update
      .where('status', '=', current.status)
      .where('result', current.result === null ? 'is' : '=', current.result);
  const { numUpdatedRows } = await update.executeTakeFirst();
  if (tentative && Number(numUpdatedRows) !== 1) return null;
  const { run } = move;
  if (!move.event) return { run, changed: true, queued: 0, waiting: 0, handed: null };
  const data: EventData = { type: move.event, run: snapshot(run) };
  return changed(run, await recordEvent(trx, run.organization_id, data, { offer }));
}

/** A run moved, and what its event's recording wrote. */
const changed = (run: RunRow, recorded: Recorded): StatusChanged => ({
  run,
  changed: true,
  queued: recorded.deliveryIds.length,
  waiting: recorded.waiting,
  handed: recorded.handed,
});

/**
 * PostgreSQL: `move` of `seen` and its event written as one statement, the way the benchmark's
 * floor writes a status change: the run's UPDATE (only while it still has `seen`'s status and
 * result), the event's INSERT and its deliveries' INSERT as data-modifying CTEs, atomic as any
 * statement, with no BEGIN and COMMIT around it. Round trips are what a status change costs
 * there: this is 2 (the channels, then the write) where the transaction takes 6. The channels are read first, in a statement
 * of their own; a channel changed in between is as one changed just after the move. Null when
 * the run had moved since `seen` (nothing is written; the caller reads it locked).
 */
async function moveAndRecord(
  k: Kysely<Database>,
  seen: RunRow,
  move: Move,
  offer: HandoffOffer | null,
): Promise<StatusChanged | null> {
  const { run } = move;
  const data: EventData = { type: move.event!, run: snapshot(run) };
  const plan = await planEvent(k, 'postgres', run.organization_id, data, { offer }, Date.now());
  const assignments = sql.join(
    Object.entries(move.set).map(([column, value]) => sql`${sql.ref(column)} = ${value}`),
  );
  // The event's id comes from the statement itself: each row without it, its column first.
  const rows = deliveryRows(plan, 0).map((values) => values.slice(1));
  const columns = DELIVERY_COLUMNS.slice(1);
  const deliveries =
    rows.length === 0
      ? sql``
      : sql`, d AS (
          INSERT INTO deliveries (event_id, ${sql.join(columns.map(([name]) => sql.ref(name)))})
          SELECT e.id, v.* FROM e CROSS JOIN ${unnestTable('v', columns, rows)}
          RETURNING id, channel_id)`;
  const {
    rows: [out],
  } = await sql<{ event_id: string | null; deliveries: [number, number][] | null }>`
    WITH r AS (
      UPDATE runs SET ${assignments}
      WHERE id = ${seen.id} AND status = ${seen.status} AND result IS NOT DISTINCT FROM ${seen.result}
      RETURNING id
    ), e AS (
      INSERT INTO events (organization_id, run_id, type, data, created_at)
      SELECT CAST(${plan.organizationId} AS bigint), r.id, CAST(${data.type} AS text),
        CAST(${plan.eventData} AS text), CAST(${plan.now} AS bigint)
      FROM r
      RETURNING id
    )${deliveries}
    SELECT (SELECT id FROM e) AS event_id,
      ${rows.length === 0 ? sql`NULL` : sql`(SELECT json_agg(json_build_array(id, channel_id)) FROM d)`} AS deliveries
      ${othersMayTake(plan) ? sql`, (SELECT pg_notify(${NOTIFY_CHANNELS.deliveries}, '') FROM e) AS told` : sql``}`.execute(
    k,
  );
  if (!out || out.event_id === null) return null;
  return changed(run, recordedOf(plan, Number(out.event_id), out.deliveries ?? []));
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
