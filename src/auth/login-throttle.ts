import type { Db } from '../storage/database.js';
import {
  createCounters,
  deleteCounter,
  deleteStaleCounters,
  lockCounters,
  lockedUntil,
  setCounter,
  type FailureCounter,
} from '../storage/login-failures-repo.js';

/**
 * Failed logins are counted per e-mail and per client address in the database, so the limit
 * holds across every server process. After FREE_FAILURES within the window, each further
 * failure locks the key for twice as long as the last, up to MAX_LOCK_MS.
 */
const WINDOW_MS = 15 * 60_000;
const FREE_FAILURES = 5;
const MAX_LOCK_MS = 15 * 60_000;

export interface Reservation {
  /** > 0: a key is locked; nothing was counted and the caller must wait this long. */
  lockedMs: number;
  /** The attempt succeeded: take back what it added to the counters. */
  forgive(): Promise<void>;
}

function counted(row: FailureCounter | undefined, now: number): FailureCounter {
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
  const prior = new Map<string, FailureCounter | undefined>();
  const after = new Map<string, FailureCounter>();
  const lockedMs = await db.kysely.transaction().execute(async (trx) => {
    const sorted = [...new Set(keys)].sort(); // one lock order for every request
    const existing = await lockedUntil(trx, sorted);
    // A key already locked refuses the attempt before anything is written: otherwise a locked
    // client still added a row for every new e-mail it tried (2,016 tries, 2,017 rows). The check
    // below, on the locked rows, stays the one that counts when attempts race.
    const lockedBefore = Math.max(0, ...existing.map((r) => Number(r.locked_until) - now));
    if (lockedBefore > 0) return lockedBefore;
    const missing = sorted.filter((k) => !existing.some((r) => r.key === k));
    if (missing.length > 0) await createCounters(trx, missing, now);
    const rows = await lockCounters(trx, db.dialect, sorted);
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
      await setCounter(trx, row.key, next);
    }
    return 0;
  });
  return {
    lockedMs,
    forgive: async () => {
      for (const [key, next] of after) {
        await db.kysely.transaction().execute(async (trx) => {
          const [row] = await lockCounters(trx, db.dialect, [key]);
          if (!row) return;
          // Untouched since this attempt: restore it exactly; otherwise only take back the count.
          const restore =
            row.failures === next.failures && Number(row.locked_until) === next.locked_until
              ? prior.get(key)!
              : { failures: Math.max(0, row.failures - 1) };
          await setCounter(trx, key, restore);
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
export function deleteStaleFailures(db: Db, now: number, limit: number): Promise<number> {
  return deleteStaleCounters(db.kysely, now - WINDOW_MS, now, limit);
}

export async function clearFailures(db: Db, key: string): Promise<void> {
  await deleteCounter(db.kysely, key);
}
