import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { Dialect } from './database.js';
import { keysetPage, type PageRequest } from './keyset-page.js';
import { notifyProcesses } from './notify.js';
import type { Database, LoadTestsTable, ScheduleTicksTable } from './schema.js';

export type LoadTestRow = Selectable<LoadTestsTable>;

/** The load_tests columns that store a schedule: what every reader of schedules selects. */
export const SCHEDULE_COLUMNS = [
  'schedule_command',
  'schedule_cron',
  'schedule_timezone',
  'schedule_enabled',
  'schedule_timeout_ms',
] as const;
export type ScheduleColumns = Pick<LoadTestRow, (typeof SCHEDULE_COLUMNS)[number]>;

export function findLoadTest(k: Kysely<Database>, id: number): Promise<LoadTestRow | undefined> {
  return k.selectFrom('load_tests').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listLoadTests(k: Kysely<Database>, projectId: number, request: PageRequest) {
  const q = k.selectFrom('load_tests').selectAll().where('project_id', '=', projectId);
  return keysetPage(q, 'id', 'asc', request);
}

export async function createLoadTest(k: Kysely<Database>, row: Insertable<LoadTestsTable>): Promise<number> {
  const { id } = await k.insertInto('load_tests').values(row).returning('id').executeTakeFirstOrThrow();
  return id;
}

/** Changes a load test; a change of its schedule is told to every process's scheduler. */
export async function updateLoadTest(
  k: Kysely<Database>,
  id: number,
  set: Updateable<LoadTestsTable>,
): Promise<void> {
  await k.updateTable('load_tests').set(set).where('id', '=', id).execute();
  if (SCHEDULE_COLUMNS.some((column) => column in set)) await notifyProcesses(k, 'schedules');
}

export async function deleteLoadTest(k: Kysely<Database>, id: number): Promise<void> {
  await k.deleteFrom('load_tests').where('id', '=', id).execute();
  await notifyProcesses(k, 'schedules');
}

/** The schedule's ticks, newest first. */
export function listScheduleTicks(k: Kysely<Database>, loadTestId: number, request: PageRequest) {
  const q = k.selectFrom('schedule_ticks').selectAll().where('load_test_id', '=', loadTestId);
  return keysetPage(q, 'id', 'desc', request);
}

/** The schedules switched on, for the scheduler's plan. */
export function enabledSchedules(k: Kysely<Database>) {
  return k
    .selectFrom('load_tests')
    .select(['id', ...SCHEDULE_COLUMNS])
    .where('schedule_enabled', '=', 1)
    .execute();
}

/**
 * The load test's schedule, locked until the transaction ends (PostgreSQL; SQLite runs one
 * transaction at a time): serialises a tick's check-and-insert per load test between processes.
 */
export function lockSchedule(k: Kysely<Database>, dialect: Dialect, loadTestId: number) {
  let q = k
    .selectFrom('load_tests')
    .select(['id', 'schedule_command_set_by', ...SCHEDULE_COLUMNS])
    .where('id', '=', loadTestId);
  if (dialect === 'postgres') q = q.forUpdate();
  return q.executeTakeFirst();
}

/**
 * Records the tick as this process's, or answers undefined when another process recorded it
 * first: every process computes the same tick times, and the unique (load_test_id, tick_at)
 * lets one insert in, so each tick fires once.
 */
export async function claimTick(
  k: Kysely<Database>,
  tick: Insertable<ScheduleTicksTable>,
): Promise<number | undefined> {
  const inserted = await k
    .insertInto('schedule_ticks')
    .values(tick)
    .onConflict((oc) => oc.columns(['load_test_id', 'tick_at']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

export async function updateTick(
  k: Kysely<Database>,
  id: number,
  set: Updateable<ScheduleTicksTable>,
): Promise<void> {
  await k.updateTable('schedule_ticks').set(set).where('id', '=', id).execute();
}

/** A tick that won its lease after `since` and has no run yet: its run is still being made. */
export function startingTick(k: Kysely<Database>, loadTestId: number, since: number) {
  return k
    .selectFrom('schedule_ticks')
    .select('tick_at')
    .where('load_test_id', '=', loadTestId)
    .where('outcome', '=', 'started')
    .where('run_id', 'is', null)
    .where('created_at', '>', since)
    .executeTakeFirst();
}

/**
 * Deletes up to `limit` ticks recorded before `before`: one batch of a retention pass. A tick
 * whose run or command may still be going (owned, see crashed-runs.ts) stays, however old.
 */
export async function deleteTicksBefore(k: Kysely<Database>, before: number, limit: number): Promise<number> {
  const ids = (
    await k
      .selectFrom('schedule_ticks')
      .select('id')
      .where('created_at', '<', before)
      .where('owner_lease_until', 'is', null)
      .where('child_pid', 'is', null)
      .limit(limit)
      .execute()
  ).map((r) => Number(r.id));
  if (ids.length === 0) return 0;
  const deleted = await k.deleteFrom('schedule_ticks').where('id', 'in', ids).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

/**
 * Ticks whose run may still be going or whose command may still run: a live owner renews
 * their lease; the scheduler ends those of dead owners. Matches the partial index's predicate,
 * so it never reads the ticks' history.
 */
export function ownedTicks(k: Kysely<Database>) {
  return k
    .selectFrom('schedule_ticks')
    .select([
      'id',
      'run_id',
      'fired_by',
      'owner_pid',
      'owner_started',
      'owner_space',
      'owner_lease_until',
      'child_pid',
      'child_started',
    ])
    .where((eb) => eb.or([eb('owner_lease_until', 'is not', null), eb('child_pid', 'is not', null)]))
    .execute();
}

/** Extends the leases of the ticks whose runs this process is running. */
export async function renewTickLeases(k: Kysely<Database>, ids: number[], until: number): Promise<void> {
  if (ids.length === 0) return;
  await k
    .updateTable('schedule_ticks')
    .set({ owner_lease_until: until })
    .where('id', 'in', ids)
    .where('owner_lease_until', 'is not', null)
    .execute();
}

/**
 * Takes a dead owner's tick over: only if its lease is still the one seen, so of several
 * processes looking at once, one ends the run.
 */
export async function takeOverTick(
  k: Kysely<Database>,
  id: number,
  seenLease: number,
  set: Updateable<ScheduleTicksTable>,
): Promise<boolean> {
  const result = await k
    .updateTable('schedule_ticks')
    .set(set)
    .where('id', '=', id)
    .where('owner_lease_until', '=', seenLease)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
