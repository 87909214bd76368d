import type { Db } from '../storage/database.js';

/**
 * Failed logins are counted per e-mail and per client address in the database, so the limit
 * holds across every server process. After FREE_FAILURES within the window, each further
 * failure locks the key for twice as long as the last, up to MAX_LOCK_MS.
 */
const WINDOW_MS = 15 * 60_000;
const FREE_FAILURES = 5;
const MAX_LOCK_MS = 15 * 60_000;

interface Counter {
  failures: number;
  first_at: number;
  locked_until: number;
}

export interface Reservation {
  /** > 0: a key is locked; nothing was counted and the caller must wait this long. */
  lockedMs: number;
  /** The attempt succeeded: take back what it added to the counters. */
  forgive(): Promise<void>;
}

function counted(row: Counter | undefined, now: number): Counter {
  const fresh = !row || row.failures === 0 || now - row.first_at > WINDOW_MS;
  const failures = fresh ? 1 : row.failures + 1;
  const over = failures - FREE_FAILURES;
  const locked_until = over > 0 ? now + Math.min(MAX_LOCK_MS, 1000 * 2 ** (over - 1)) : 0;
  return { failures, first_at: fresh ? now : row.first_at, locked_until };
}

/**
 * Checks the keys and counts the attempt as a failure in one step, before the password is
 * verified. Checking first and counting only after the (deliberately slow) password check let a
 * burst of parallel guesses all pass the check before any of them was counted. The rows are
 * created first (ON CONFLICT DO NOTHING) and locked, so concurrent attempts serialise on them on
 * PostgreSQL instead of racing to insert the same key; SQLite runs one transaction at a time.
 */
export async function reserveAttempt(db: Db, keys: string[], now = Date.now()): Promise<Reservation> {
  const prior = new Map<string, Counter | undefined>();
  const after = new Map<string, Counter>();
  const lockedMs = await db.kysely.transaction().execute(async (trx) => {
    const sorted = [...new Set(keys)].sort(); // one lock order for every request
    const existing = await trx
      .selectFrom('login_failures')
      .select(['key', 'locked_until'])
      .where('key', 'in', sorted)
      .execute();
    // A key already locked refuses the attempt before anything is written: otherwise a locked
    // client still added a row for every new e-mail it tried (2,016 tries, 2,017 rows). The check
    // below, on the locked rows, stays the one that counts when attempts race.
    const lockedBefore = Math.max(0, ...existing.map((r) => Number(r.locked_until) - now));
    if (lockedBefore > 0) return lockedBefore;
    const missing = sorted.filter((k) => !existing.some((r) => r.key === k));
    if (missing.length > 0) {
      await trx
        .insertInto('login_failures')
        .values(missing.map((key) => ({ key, failures: 0, first_at: now, locked_until: 0 })))
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
    }
    let q = trx.selectFrom('login_failures').selectAll().where('key', 'in', sorted).orderBy('key');
    if (db.dialect === 'postgres') q = q.forUpdate();
    const rows = await q.execute();
    const locked = Math.max(0, ...rows.map((r) => Number(r.locked_until) - now));
    if (locked > 0) return locked;
    for (const row of rows) {
      const before = {
        failures: row.failures,
        first_at: Number(row.first_at),
        locked_until: Number(row.locked_until),
      };
      const next = counted(before, now);
      prior.set(row.key, before);
      after.set(row.key, next);
      await trx.updateTable('login_failures').set(next).where('key', '=', row.key).execute();
    }
    return 0;
  });
  return {
    lockedMs,
    forgive: async () => {
      for (const [key, next] of after) {
        await db.kysely.transaction().execute(async (trx) => {
          let q = trx.selectFrom('login_failures').selectAll().where('key', '=', key);
          if (db.dialect === 'postgres') q = q.forUpdate();
          const row = await q.executeTakeFirst();
          if (!row) return;
          // Untouched since this attempt: restore it exactly; otherwise only take back the count.
          const restore =
            row.failures === next.failures && Number(row.locked_until) === next.locked_until
              ? prior.get(key)!
              : { failures: Math.max(0, row.failures - 1) };
          await trx.updateTable('login_failures').set(restore).where('key', '=', key).execute();
        });
      }
    },
  };
}

/**
 * Deletes up to `limit` rows that no longer change any answer: their window has passed (the next
 * failure starts a fresh count) and so has their lock. Returns how many went; the retention pass
 * calls it batch by batch.
 */
export async function deleteStaleFailures(db: Db, now: number, limit: number): Promise<number> {
  const keys = (
    await db.kysely
      .selectFrom('login_failures')
      .select('key')
      .where('first_at', '<', now - WINDOW_MS)
      .where('locked_until', '<', now)
      .limit(limit)
      .execute()
  ).map((r) => r.key);
  if (keys.length === 0) return 0;
  // The conditions again: an attempt may have counted on a key since it was read.
  const deleted = await db.kysely
    .deleteFrom('login_failures')
    .where('key', 'in', keys)
    .where('first_at', '<', now - WINDOW_MS)
    .where('locked_until', '<', now)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

export async function clearFailures(db: Db, key: string): Promise<void> {
  await db.kysely.deleteFrom('login_failures').where('key', '=', key).execute();
}
