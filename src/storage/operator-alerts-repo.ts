import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import { keysetPage, type PageRequest } from './keyset-page.js';
import type { Database, OperatorAlertsTable } from './schema.js';
import { iso, isoOrNull } from './time.js';

export type AlertRow = Selectable<OperatorAlertsTable>;
export type AlertWithChannel = AlertRow & { channel_name: string; channel_type: string };

/** How a channel's failures are gathered into alerts (see recordGaveUp). */
export interface AlertTiming {
  /** At most one mail about a channel's failures per this window. */
  windowMs: number;
  /** A new alert waits this long first, so a disabling that follows at once is the one mail. */
  graceMs: number;
}

/**
 * A delivery to the channel failed for good, in the transaction that recorded it. Failures of
 * a channel gather in one alert until it is mailed: the one waiting for its window, unless a
 * process holds it to mail it now. A new alert's window opens `graceMs` from now, and not
 * before `windowMs` after the channel's previous one, so its owners get at most one such mail
 * per window, saying how many failed. Two statements at most, and only on this rare path.
 */
export async function recordGaveUp(
  trx: Kysely<Database>,
  channelId: number,
  reason: string,
  now: number,
  timing: AlertTiming,
): Promise<void> {
  const { windowMs } = timing;
  const soonest = now + timing.graceMs;
  const joined = await waitingFailures(trx, channelId)
    .set({ count: sql`count + 1`, reason, updated_at: now })
    .executeTakeFirst();
  if (Number(joined.numUpdatedRows) > 0) return;
  const previous = sql`(SELECT MAX(p.window_at) FROM operator_alerts p
    WHERE p.channel_id = ${channelId} AND p.kind = 'gave_up')`;
  const windowAt = sql`CASE WHEN ${previous} + ${windowMs} > ${soonest} THEN ${previous} + ${windowMs} ELSE ${soonest} END`;
  await insertAlert(trx, channelId, 'gave_up', reason, now, windowAt);
}

/**
 * The channel was switched off, in the transaction that did it: always mailed, at once. Its
 * failures still waiting for their window are folded into it (its reason counts them and
 * names the last), so neither a second mail nor a second line on the banner repeats them.
 */
export async function recordDisabled(
  trx: Kysely<Database>,
  channelId: number,
  reason: string,
  now: number,
): Promise<void> {
  await waitingFailures(trx, channelId).set({ dispatch_state: 'done', dismissed_at: now }).execute();
  await insertAlert(trx, channelId, 'disabled', reason, now, sql`${now}`);
}

/** The channel's failures gathered for a mail, still waiting for their window and not taken. */
function waitingFailures(trx: Kysely<Database>, channelId: number) {
  return trx
    .updateTable('operator_alerts')
    .where('channel_id', '=', channelId)
    .where('kind', '=', 'gave_up')
    .where('dispatch_state', '=', 'waiting')
    .where('claimed_until', 'is', null);
}

/** A new alert about the channel, in its organization, waiting to be dispatched from `windowAt`. */
async function insertAlert(
  trx: Kysely<Database>,
  channelId: number,
  kind: OperatorAlertsTable['kind'],
  reason: string,
  now: number,
  windowAt: RawBuilder<unknown>,
): Promise<void> {
  await sql`INSERT INTO operator_alerts (organization_id, channel_id, kind, reason, count, created_at,
      updated_at, window_at, dispatch_state, dispatch_attempts, operations_queued)
    SELECT c.organization_id, c.id, ${kind}, ${reason}, 1, ${now}, ${now}, ${windowAt}, 'waiting', 0, 0
    FROM notification_channels c WHERE c.id = ${channelId}`.execute(trx);
}

function withChannel(k: Kysely<Database>) {
  return k
    .selectFrom('operator_alerts')
    .innerJoin('notification_channels', 'notification_channels.id', 'operator_alerts.channel_id')
    .selectAll('operator_alerts')
    .select(['notification_channels.name as channel_name', 'notification_channels.type as channel_type']);
}

/** The organization's alerts nobody dismissed yet, newest first. */
export function listOpenAlerts(k: Kysely<Database>, organizationId: number, request: PageRequest) {
  const q = withChannel(k)
    .where('operator_alerts.organization_id', '=', organizationId)
    .where('operator_alerts.dismissed_at', 'is', null);
  return keysetPage(q, 'operator_alerts.id', 'desc', request);
}

export function findAlert(k: Kysely<Database>, id: number) {
  return k.selectFrom('operator_alerts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Dismisses one open alert of the organization, or (id null) all of them; how many it did. */
export async function dismissAlerts(
  k: Kysely<Database>,
  organizationId: number,
  id: number | null,
  now: number,
): Promise<number> {
  let q = k
    .updateTable('operator_alerts')
    .set({ dismissed_at: now })
    .where('organization_id', '=', organizationId)
    .where('dismissed_at', 'is', null);
  if (id !== null) q = q.where('id', '=', id);
  return Number((await q.executeTakeFirst()).numUpdatedRows);
}

export const alertView = (a: AlertWithChannel, publicUrl: string) => ({
  id: a.id,
  organization_id: a.organization_id,
  kind: a.kind,
  channel: {
    id: a.channel_id,
    name: a.channel_name,
    type: a.channel_type,
    url: channelPageUrl(publicUrl, a.channel_id),
  },
  reason: a.reason,
  count: a.count,
  created_at: iso(a.created_at),
  last_at: iso(a.updated_at),
  mailed_at: isoOrNull(a.mailed_at),
});
export type AlertView = ReturnType<typeof alertView>;

export function channelPageUrl(publicUrl: string, channelId: number): string {
  return `${publicUrl.replace(/\/+$/, '')}/integrations/${channelId}`;
}

/** Ids of alerts due to be dispatched, oldest first. */
export async function dueAlertIds(k: Kysely<Database>, now: number, limit: number): Promise<number[]> {
  const rows = await k
    .selectFrom('operator_alerts')
    .select('id')
    .where('dispatch_state', '=', 'waiting')
    .where('window_at', '<=', now)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => Number(r.id));
}

/** When the next waiting alert falls due (its window, or its held claim's end), or null. */
export async function nextAlertDue(k: Kysely<Database>): Promise<number | null> {
  const { rows } = await sql<{ at: number | null }>`SELECT MIN(CASE WHEN claimed_until > window_at
      THEN claimed_until ELSE window_at END) AS at
    FROM operator_alerts WHERE dispatch_state = 'waiting'`.execute(k);
  return rows[0]?.at == null ? null : Number(rows[0].at);
}

/**
 * Takes a due alert for this process, for `holdMs`: the conditional UPDATE lets exactly one of
 * several processes that saw it due have it. Null when another one took it first.
 */
export async function claimAlert(
  k: Kysely<Database>,
  id: number,
  now: number,
  holdMs: number,
): Promise<AlertWithChannel | null> {
  const taken = await k
    .updateTable('operator_alerts')
    .set({ claimed_until: now + holdMs, dispatch_attempts: sql`dispatch_attempts + 1` })
    .where('id', '=', id)
    .where('dispatch_state', '=', 'waiting')
    .where('window_at', '<=', now)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) === 0) return null;
  return (await withChannel(k).where('operator_alerts.id', '=', id).executeTakeFirst()) ?? null;
}

/** Its mail went (or there was none to send): done. */
export async function alertDispatched(k: Kysely<Database>, id: number, mailedAt: number | null) {
  await k
    .updateTable('operator_alerts')
    .set({ dispatch_state: 'done', claimed_until: null, mailed_at: mailedAt, mail_error: null })
    .where('id', '=', id)
    .execute();
}

/**
 * Marks that the alert's notification to the operations channel is being queued; false when it
 * already was (by an earlier pass whose mail then failed), so it is queued once.
 */
export async function markOperationsQueued(k: Kysely<Database>, id: number): Promise<boolean> {
  const marked = await k
    .updateTable('operator_alerts')
    .set({ operations_queued: 1 })
    .where('id', '=', id)
    .where('operations_queued', '=', 0)
    .executeTakeFirst();
  return Number(marked.numUpdatedRows) > 0;
}

/** Its mail failed: tried again from `retryAt`, or (null) given up with the error kept. */
export async function alertMailFailed(
  k: Kysely<Database>,
  id: number,
  error: string,
  retryAt: number | null,
) {
  await k
    .updateTable('operator_alerts')
    .set(
      retryAt === null
        ? { dispatch_state: 'failed', claimed_until: null, mail_error: error }
        : { claimed_until: null, window_at: retryAt, mail_error: error },
    )
    .where('id', '=', id)
    .execute();
}

/** The e-mail addresses of the organization's owners and admins: who hears of its alerts. */
export async function managerEmails(k: Kysely<Database>, organizationId: number): Promise<string[]> {
  const rows = await k
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select('users.email')
    .where('memberships.organization_id', '=', organizationId)
    .where('memberships.role', 'in', ['owner', 'admin'])
    .orderBy('users.id')
    .execute();
  return rows.map((r) => r.email);
}

/**
 * Alerts dismissed before `before` (the retention): nobody sees them any more, and a channel's
 * next window needs only its last hour. Open alerts stay until someone dismisses them.
 */
export async function deleteDismissedAlerts(k: Kysely<Database>, before: number, limit: number) {
  const ids = (
    await k
      .selectFrom('operator_alerts')
      .select('id')
      .where('dismissed_at', '<', before)
      .where('dispatch_state', '<>', 'waiting')
      .limit(limit)
      .execute()
  ).map((r) => r.id);
  if (ids.length === 0) return 0;
  const deleted = await k.deleteFrom('operator_alerts').where('id', 'in', ids).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
