import { sql, type Kysely } from 'kysely';
import { inIds, perRow, unnestTable } from '../storage/bulk-params.js';
import type { Dialect } from '../storage/database.js';
import { recordDisabled, recordGaveUp, type AlertTiming } from '../storage/operator-alerts-repo.js';
import type { Database, DeliveryState } from '../storage/schema.js';
import type { AttemptStart } from './handoff.js';
import { writeChannelStates, type RememberedState } from '../storage/channel-state-repo.js';

export interface Completion {
  deliveryId: number;
  workerId: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  /** The attempt's whole log row: the request as sent (redacted) and the answer. */
  attempt: AttemptStart & {
    duration_ms: number;
    response_status: number | null;
    response_headers: string | null;
    response_body: string | null;
    outcome: string;
    error: string | null;
  };
  /**
   * The channel's run of permanent failures: reset by a delivery, counted by a failure (and
   * the channel switched off after DISABLE_AFTER_PERMANENT_FAILURES), left alone otherwise.
   */
  account: {
    channelId: number;
    effect: 'reset' | 'count' | 'none';
    reason: string | null;
    /**
     * A counted failure that the organization's owners and admins hear of (an operator alert):
     * every delivery that failed for good, except those failed because the channel was already
     * off (its disabling was the alert).
     */
    alert?: boolean;
  };
  /** What the channel keeps for later notifications (ChannelType.stateKey), written alongside. */
  remember?: RememberedState;
}

export interface CompletionWritten {
  held: boolean;
  unblocks: boolean;
  /** Its failure wrote an operator alert: the writer dispatches it once this has committed. */
  alerted: boolean;
}

export interface CompletionOptions {
  /** How a channel's failures are gathered into operator alerts. */
  alerts: AlertTiming;
}

/** Whether the delivery just ended has a later one of its run to its channel waiting behind it. */
const FREES_FOLLOWER = `(deliveries.state <> 'pending' AND deliveries.run_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM deliveries f WHERE f.channel_id = deliveries.channel_id
    AND f.run_id = deliveries.run_id AND f.id > deliveries.id AND f.state = 'pending'))`;

/** Permanent failures in a row after which a channel is switched off until someone looks. */
export const DISABLE_AFTER_PERMANENT_FAILURES = 3;

const ATTEMPT_COLUMNS = [
  ['delivery_id', 'bigint'],
  ['request_id', 'text'],
  ['started_at', 'bigint'],
  ['request_method', 'text'],
  ['request_url', 'text'],
  ['request_headers', 'text'],
  ['request_body', 'text'],
  ['duration_ms', 'integer'],
  ['response_status', 'integer'],
  ['response_headers', 'text'],
  ['response_body', 'text'],
  ['outcome', 'text'],
  ['error', 'text'],
] as const;

const DELIVERY_END_COLUMNS = [
  ['id', 'bigint'],
  ['owner', 'text'],
  ['state', 'text'],
  ['attempts', 'integer'],
  ['next_attempt_at', 'bigint'],
  ['last_error', 'text'],
] as const;

/**
 * Records attempts and their deliveries' next states, a batch at a time, in the caller's
 * transaction: one statement per table for the whole batch. An attempt is written once, when
 * it ends, whole (request and answer); its number follows the delivery's last logged attempt.
 * The lease owner is part of the delivery's condition: a worker whose lease ran out (and whose
 * delivery another worker took over, logging this attempt as interrupted) must not overwrite
 * that worker's state; its attempt is still logged, after the others, as what it was. Returns,
 * per completion, whether the lease was still held (only then does it count towards its
 * channel's failures) and whether its end freed a follower: a later delivery of the same run
 * to the same channel, pending behind it. Any process may have written that follower, so the
 * database is the one to ask; the caller wakes its claims for it.
 */
export async function writeCompletions(
  dialect: Dialect,
  trx: Kysely<Database>,
  cs: readonly Completion[],
  options: CompletionOptions = { alerts: ALERT_TIMING },
): Promise<CompletionWritten[]> {
  if (cs.length === 0) return [];
  const now = Date.now();
  if (!needsTransaction(dialect, cs)) return writeAtOnce(trx, cs, now);
  // Deliveries before their attempts, the order in which deleting a channel (or a delivery)
  // cascades: taken the other way round, a completion and a channel's deletion on PostgreSQL
  // could each hold the row the other waits for, and one of them failed as a deadlock.
  let ended: Map<number, boolean>;
  if (dialect === 'sqlite') {
    // A statement per row (see perRow): ten rows took 214 us as two UPDATE ... FROM json_each.
    const updated = await perRow<{ id: number; unblocks: number }>(
      trx,
      `UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?,
        lease_until = NULL, lease_owner = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?
        RETURNING id, ${FREES_FOLLOWER} AS unblocks`,
      cs.map(deliveryEnd).map(([id, owner, ...values]) => [...values, now, id, owner]),
    );
    ended = new Map(updated.flat().map((r) => [Number(r.id), Boolean(r.unblocks)]));
    await perRow(
      trx,
      `INSERT INTO delivery_attempts (${ATTEMPT_INSERT_COLUMNS})
      SELECT ?, (SELECT COALESCE(MAX(number), 0) + 1 FROM delivery_attempts WHERE delivery_id = ?),
        ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
      -- A channel deleted meanwhile took its deliveries with it: nothing to log.
      WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ?)`,
      cs.map(attemptRow).map(([id, ...rest]) => [id, id, ...rest, id]),
    );
  } else {
    const { rows } = await endDeliveries(cs, now).execute(trx);
    ended = new Map(rows.map((r) => [Number(r.id), r.unblocks]));
    await insertAttempts(trx, cs);
  }
  const alerted = await accountChannels(
    dialect,
    trx,
    cs.filter((c) => ended.has(c.deliveryId)).map((c) => c.account),
    options,
  );
  // Kept even when the lease was lost: it records what the receiver now holds (an annotation
  // this attempt created), whoever goes on with the delivery.
  const remembered = cs.flatMap((c) => (c.remember ? [c.remember] : []));
  if (remembered.length > 0) await writeChannelStates(dialect, trx, remembered);
  return cs.map((c) => ({
    held: ended.has(c.deliveryId),
    unblocks: ended.get(c.deliveryId) ?? false,
    alerted: alerted.has(c.account),
  }));
}

/**
 * Whether a batch needs a transaction of its own. On PostgreSQL a batch of deliveries that ended
 * without a failure to count (delivered, to be retried, or failed without counting) and with
 * nothing for a channel to remember is one statement (writeAtOnce), atomic as any statement:
 * most batches, and round trips are what a batch costs there.
 */
export function needsTransaction(dialect: Dialect, cs: readonly Completion[]): boolean {
  return dialect !== 'postgres' || cs.some((c) => c.account.effect === 'count' || c.remember !== undefined);
}

/**
 * PostgreSQL: the batch as one statement of data-modifying CTEs (see needsTransaction). The
 * deliveries' UPDATE is what the statement returns, so it runs first (the order of a channel's
 * cascading delete: deliveries before their attempts); PostgreSQL runs the two others after it.
 * Every CTE reads the statement's snapshot, taken before the UPDATE may have waited for a row:
 * the attempts written here are only those of deliveries the UPDATE took (their lease still
 * held), whose rows it locks, so no take-over can have logged an attempt of theirs unseen. An
 * attempt whose lease was lost (or whose channel was deleted meanwhile) is logged by a second
 * statement, with a snapshot of its own, after the others. A channel's failure count is reset
 * only for a delivery whose lease was still held, its rows taken in id order as elsewhere.
 */
async function writeAtOnce(
  k: Kysely<Database>,
  cs: readonly Completion[],
  now: number,
): Promise<CompletionWritten[]> {
  const resets = cs.filter((c) => c.account.effect === 'reset');
  const resetChannels = [...new Set(resets.map((c) => c.account.channelId))].sort((x, y) => x - y);
  const { rows } = await sql<{ id: number; unblocks: boolean }>`
    WITH u AS (${endDeliveries(cs, now)}), a AS (
      INSERT INTO delivery_attempts (${sql.raw(ATTEMPT_INSERT_COLUMNS)})
      SELECT ${sql.raw(attemptSelect('w'))}
      FROM ${unnestTable('w', ATTEMPT_COLUMNS, cs.map(attemptRow))}
      WHERE w.delivery_id IN (SELECT id FROM u)
    ), c AS (
      UPDATE notification_channels SET consecutive_failures = 0
      WHERE id = ANY(${resetChannels}::bigint[]) AND consecutive_failures > 0
        AND EXISTS (SELECT 1 FROM u WHERE u.channel_id = notification_channels.id
          AND u.id = ANY(${resets.map((c) => c.deliveryId)}::bigint[]))
    )
    SELECT id, unblocks FROM u`.execute(k);
  const ended = new Map(rows.map((r) => [Number(r.id), r.unblocks]));
  const late = cs.filter((c) => !ended.has(c.deliveryId));
  if (late.length > 0) await insertAttempts(k, late);
  return cs.map((c) => ({
    held: ended.has(c.deliveryId),
    unblocks: ended.get(c.deliveryId) ?? false,
    alerted: false,
  }));
}

/**
 * PostgreSQL: the batch's deliveries set to their next states, each only while this worker still
 * holds its lease; returns each one taken, its channel, and whether its end freed a follower.
 */
const endDeliveries = (cs: readonly Completion[], now: number) => sql<{
  id: number;
  channel_id: number;
  unblocks: boolean;
}>`
  UPDATE deliveries SET state = v.state, attempts = v.attempts, next_attempt_at = v.next_attempt_at,
    last_error = v.last_error, lease_until = NULL, lease_owner = NULL, updated_at = ${now}
  FROM ${unnestTable('v', DELIVERY_END_COLUMNS, cs.map(deliveryEnd))}
  WHERE deliveries.id = v.id AND deliveries.lease_owner = v.owner
  RETURNING deliveries.id, deliveries.channel_id, ${sql.raw(FREES_FOLLOWER)} AS unblocks`;

const ATTEMPT_INSERT_COLUMNS = `delivery_id, number, request_id, started_at, request_method,
  request_url, request_headers, request_body, duration_ms, response_status, response_headers,
  response_body, outcome, error`;

/** The attempt rows of unnested table `t` (ATTEMPT_COLUMNS), each numbered after its delivery's last. */
const attemptSelect = (t: string) => `${t}.delivery_id,
  COALESCE((SELECT MAX(x.number) FROM delivery_attempts x WHERE x.delivery_id = ${t}.delivery_id), 0) + 1,
  ${t}.request_id, ${t}.started_at, ${t}.request_method, ${t}.request_url, ${t}.request_headers,
  ${t}.request_body, ${t}.duration_ms, ${t}.response_status, ${t}.response_headers,
  ${t}.response_body, ${t}.outcome, ${t}.error`;

/** PostgreSQL: the attempts, each numbered after its delivery's last, where their delivery still exists. */
async function insertAttempts(k: Kysely<Database>, cs: readonly Completion[]): Promise<void> {
  await sql`
    INSERT INTO delivery_attempts (${sql.raw(ATTEMPT_INSERT_COLUMNS)})
    SELECT ${sql.raw(attemptSelect('v'))}
    FROM ${unnestTable('v', ATTEMPT_COLUMNS, cs.map(attemptRow))}
    -- A channel deleted meanwhile took its deliveries with it: nothing to log.
    WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = v.delivery_id)`.execute(k);
}

/** A completion's attempt row, in ATTEMPT_COLUMNS order. */
const attemptRow = (c: Completion): unknown[] => [
  c.deliveryId,
  c.attempt.request_id,
  c.attempt.started_at,
  c.attempt.request_method,
  c.attempt.request_url,
  c.attempt.request_headers,
  c.attempt.request_body,
  c.attempt.duration_ms,
  c.attempt.response_status,
  c.attempt.response_headers,
  c.attempt.response_body,
  c.attempt.outcome,
  c.attempt.error,
];

/** A completion's delivery row, in DELIVERY_END_COLUMNS order. */
const deliveryEnd = (c: Completion): unknown[] => [
  c.deliveryId,
  c.workerId,
  c.state,
  c.attempts,
  c.nextAttemptAt,
  c.lastError,
];

/** Operator alerts about one channel's failures: a mail a minute after the first, then at most hourly. */
export const ALERT_TIMING: AlertTiming = { windowMs: 60 * 60_000, graceMs: 60_000 };

/**
 * Applies the batch's effects on channels in order. Resets are gathered into one statement
 * until a failure of one of their channels has to be counted after them. A counted failure
 * that disables its channel, or that is to be alerted, writes an operator alert here, in the
 * same transaction: only failures pay for it, and a crash cannot keep one without the other.
 * Returns the effects that wrote one.
 */
async function accountChannels(
  dialect: Dialect,
  trx: Kysely<Database>,
  effects: Completion['account'][],
  options: CompletionOptions,
): Promise<Set<Completion['account']>> {
  const alerted = new Set<Completion['account']>();
  let resets = new Set<number>();
  const flushResets = async () => {
    if (resets.size === 0) return;
    const ids = inIds(
      dialect,
      'id',
      [...resets].sort((x, y) => x - y),
    );
    await sql`UPDATE notification_channels SET consecutive_failures = 0
      WHERE ${ids} AND consecutive_failures > 0`.execute(trx);
    resets = new Set();
  };
  for (const e of effects) {
    if (e.effect === 'reset') resets.add(e.channelId);
    if (e.effect !== 'count') continue;
    if (resets.has(e.channelId)) await flushResets();
    const counted = await trx
      .updateTable('notification_channels')
      .set({ consecutive_failures: sql`consecutive_failures + 1` })
      .where('id', '=', e.channelId)
      .returning('enabled')
      .executeTakeFirst();
    const message = `disabled after ${DISABLE_AFTER_PERMANENT_FAILURES} deliveries failed in a row; last: ${e.reason}`;
    const now = Date.now();
    const disabled = await trx
      .updateTable('notification_channels')
      .set({ enabled: 0, disabled_reason: message, updated_at: now })
      .where('id', '=', e.channelId)
      .where('enabled', '=', 1)
      .where('consecutive_failures', '>=', DISABLE_AFTER_PERMANENT_FAILURES)
      .executeTakeFirst();
    // A channel already off (a send that was under way when it was disabled) was told of then.
    if (e.alert && counted?.enabled === 1) {
      await recordGaveUp(trx, e.channelId, e.reason ?? 'failed', now, options.alerts);
      alerted.add(e);
    }
    if (Number(disabled.numUpdatedRows) > 0) {
      await recordDisabled(trx, e.channelId, message, now);
      alerted.add(e);
    }
  }
  await flushResets();
  return alerted;
}
