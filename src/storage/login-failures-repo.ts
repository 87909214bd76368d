import type { Kysely } from 'kysely';
import type { Dialect } from './database.js';
import type { Database, LoginFailuresTable } from './schema.js';

/** One sign-in throttle key's count (auth/login-throttle.ts decides what the numbers mean). */
export type FailureCounter = Omit<LoginFailuresTable, 'key'>;

/** When each of the keys that have a row is locked until, read without locking anything. */
export function lockedUntil(k: Kysely<Database>, keys: string[]) {
  return k.selectFrom('login_failures').select(['key', 'locked_until']).where('key', 'in', keys).execute();
}

/**
 * A zeroed row for each key, so that the rows exist to be locked: ON CONFLICT DO NOTHING, so
 * concurrent attempts do not race to insert the same key and fail on it.
 */
export async function createCounters(k: Kysely<Database>, keys: string[], now: number): Promise<void> {
  await k
    .insertInto('login_failures')
    .values(keys.map((key) => ({ key, failures: 0, first_at: now, locked_until: 0 })))
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
}

/**
 * The keys' rows, locked until the transaction ends (PostgreSQL; SQLite runs one transaction
 * at a time) and in key order, so concurrent attempts on a key serialise without deadlocks.
 */
export function lockCounters(k: Kysely<Database>, dialect: Dialect, keys: string[]) {
  let q = k.selectFrom('login_failures').selectAll().where('key', 'in', keys).orderBy('key');
  if (dialect === 'postgres') q = q.forUpdate();
  return q.execute();
}

export async function setCounter(
  k: Kysely<Database>,
  key: string,
  set: Partial<FailureCounter>,
): Promise<void> {
  await k.updateTable('login_failures').set(set).where('key', '=', key).execute();
}

export async function deleteCounter(k: Kysely<Database>, key: string): Promise<void> {
  await k.deleteFrom('login_failures').where('key', '=', key).execute();
}

/**
 * Deletes up to `limit` rows whose count started before `windowStart` and whose lock ended
 * before `now`: they no longer change any answer. Returns how many went.
 */
export async function deleteStaleCounters(
  k: Kysely<Database>,
  windowStart: number,
  now: number,
  limit: number,
): Promise<number> {
  const keys = (
    await k
      .selectFrom('login_failures')
      .select('key')
      .where('first_at', '<', windowStart)
      .where('locked_until', '<', now)
      .limit(limit)
      .execute()
  ).map((r) => r.key);
  if (keys.length === 0) return 0;
  // The conditions again: an attempt may have counted on a key since it was read.
  const deleted = await k
    .deleteFrom('login_failures')
    .where('key', 'in', keys)
    .where('first_at', '<', windowStart)
    .where('locked_until', '<', now)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
