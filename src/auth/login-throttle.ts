import type { Db } from '../storage/database.js';

/**
 * Failed logins are counted per e-mail and per client address in the database, so the limit
 * holds across every server process. After FREE_FAILURES within the window, each further
 * failure locks the key for twice as long as the last, up to MAX_LOCK_MS.
 */
const WINDOW_MS = 15 * 60_000;
const FREE_FAILURES = 5;
const MAX_LOCK_MS = 15 * 60_000;

export async function lockedForMs(db: Db, keys: string[], now = Date.now()): Promise<number> {
  const rows = await db.kysely
    .selectFrom('login_failures')
    .select('locked_until')
    .where('key', 'in', keys)
    .execute();
  return Math.max(0, ...rows.map((r) => r.locked_until - now));
}

export async function recordFailure(db: Db, keys: string[], now = Date.now()): Promise<void> {
  for (const key of keys) {
    await db.kysely.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('login_failures')
        .selectAll()
        .where('key', '=', key)
        .executeTakeFirst();
      const fresh = !row || now - row.first_at > WINDOW_MS;
      const failures = fresh ? 1 : row.failures + 1;
      const over = failures - FREE_FAILURES;
      const lockedUntil = over > 0 ? now + Math.min(MAX_LOCK_MS, 1000 * 2 ** (over - 1)) : 0;
      const values = { failures, first_at: fresh ? now : row.first_at, locked_until: lockedUntil };
      if (row) await trx.updateTable('login_failures').set(values).where('key', '=', key).execute();
      else
        await trx
          .insertInto('login_failures')
          .values({ key, ...values })
          .execute();
    });
  }
}

export async function clearFailures(db: Db, key: string): Promise<void> {
  await db.kysely.deleteFrom('login_failures').where('key', '=', key).execute();
}
