import type { Kysely } from 'kysely';
import type { Db } from './database.js';
import type { Database } from './schema.js';

type Work = {
  run: (trx: Kysely<Database>) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
};

const queues = new WeakMap<Db, Work[]>();

/**
 * Runs `work` in a transaction shared with the other work queued in the same turn of the event
 * loop: many small writes (an attempt's start, a delivery's outcome) pay for one commit instead
 * of one each, which is what bounds delivery throughput (SQLite's commit, PostgreSQL's WAL
 * flush and round trips). Each piece still sees its own results; the transaction is all or
 * nothing, so if any piece fails every piece of the batch rejects and nothing of it is written.
 */
export function inWriteBatch<T>(db: Db, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let queue = queues.get(db);
    if (!queue) {
      queue = [];
      queues.set(db, queue);
      setImmediate(() => void flush(db));
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
    for (const w of batch) w.reject(err);
  }
}
