import type { Kysely } from 'kysely';
import type { Db } from './database.js';
import type { Database } from './schema.js';

type Work = {
  run: (trx: Kysely<Database>) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
};

const queues = new WeakMap<Db, Work[]>();
/** The last flush started per database: flushes run one after another, never side by side. */
const tails = new WeakMap<Db, Promise<void>>();

/**
 * Runs `work` in a transaction shared with the other work queued in the same turn of the event
 * loop: many small writes (an attempt's start, a delivery's outcome) pay for one commit instead
 * of one each, which is what bounds delivery throughput (SQLite's commit, PostgreSQL's WAL
 * flush and round trips). Each piece still sees its own results. When the shared transaction
 * fails, each piece is tried again alone, so only the pieces that fail on their own reject.
 */
export function inWriteBatch<T>(db: Db, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let queue = queues.get(db);
    if (!queue) {
      queue = [];
      queues.set(db, queue);
      // One flush at a time: on PostgreSQL two batches running side by side could lock the
      // same channel rows in opposite orders (a deadlock); and work arriving while a flush
      // runs joins the next batch instead of starting its own transaction.
      const previous = tails.get(db) ?? Promise.resolve();
      const tail = previous.then(() => new Promise<void>((r) => setImmediate(r))).then(() => flush(db));
      tails.set(db, tail);
    }
    queue.push({ run: work, resolve: resolve as (v: unknown) => void, reject });
  });
}

async function flush(db: Db): Promise<void> {
  const batch = queues.get(db) ?? [];
  queues.delete(db);
  try {
    const results = await db.kysely.transaction().execute(async (trx) => {
      const out: unknown[] = [];
      for (const w of batch) out.push(await w.run(trx));
      return out;
    });
    batch.forEach((w, i) => w.resolve(results[i]));
  } catch (err) {
    if (batch.length === 1) {
      batch[0]!.reject(err);
      return;
    }
    // One piece's failure (a deadlock with another process, a constraint) must not fail the
    // others with it: a completion that is not written makes its send happen again. Each
    // piece gets its own transaction, still one after another.
    for (const w of batch) {
      try {
        w.resolve(await db.kysely.transaction().execute((trx) => w.run(trx)));
      } catch (pieceErr) {
        w.reject(pieceErr);
      }
    }
  }
}
