import type { Kysely } from 'kysely';
import type { Db } from './database.js';
import type { Database } from './schema.js';

export interface WriteBatcherOptions<T, R> {
  /**
   * Writes a batch inside one transaction (or on the database itself, see `transaction`) and
   * returns one result per item, in order. It is also called with a single item when a batch
   * failed and its items are retried one by one.
   */
  write: (trx: Kysely<Database>, items: T[]) => Promise<R[]>;
  /**
   * How long the first item of a batch may wait for others. 0 flushes on the next turn of the
   * event loop: only what was queued in the same turn shares the transaction.
   */
  windowMs?: number;
  /** A batch this large is written at once, without waiting out the window. */
  maxItems?: number;
  /**
   * Whether a batch needs a transaction; without one, `write` is given the database itself (a
   * batch it writes as one statement). Always, when left out.
   */
  transaction?: (items: T[]) => boolean;
}

/**
 * Queues small writes and writes them together: many items (deliveries' outcomes) pay for one
 * transaction, one set of statements and one commit instead of one each, which is what bounds
 * delivery throughput (SQLite's commit, PostgreSQL's round trips and WAL flush). Batches are
 * written one after another, never side by side: on PostgreSQL two batches running at once
 * could lock the same rows in opposite orders, and items arriving while a batch is written
 * simply join the next one. When a batch fails, each item is written again alone, so only
 * the items that fail on their own reject: an outcome that is not recorded makes its send
 * happen again.
 */
export class WriteBatcher<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private tail: Promise<void> = Promise.resolve();
  private readonly windowMs: number;
  private readonly maxItems: number;

  constructor(
    private readonly db: Db,
    private readonly o: WriteBatcherOptions<T, R>,
  ) {
    this.windowMs = o.windowMs ?? 0;
    this.maxItems = o.maxItems ?? 256;
  }

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxItems) this.schedule(true);
      else if (this.timer === null) this.schedule(false);
    });
  }

  /** Resolves once everything queued so far is written (or failed), without waiting out the window. */
  async drained(): Promise<void> {
    while (this.queue.length > 0 || this.timer !== null) {
      if (this.queue.length > 0) this.schedule(true);
      // The flush starts on the next turn of the event loop; a resolved promise would not yield.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.tail;
  }

  private schedule(now: boolean): void {
    if (this.timer !== null) {
      if (!now) return;
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    const go = () => {
      this.timer = null;
      const batch = this.queue;
      this.queue = [];
      if (batch.length === 0) return;
      this.tail = this.tail.then(() => this.flush(batch));
    };
    this.timer = now || this.windowMs <= 0 ? setImmediate(go) : setTimeout(go, this.windowMs);
  }

  private write(items: T[]): Promise<R[]> {
    if (this.o.transaction && !this.o.transaction(items)) return this.o.write(this.db.kysely, items);
    return this.db.kysely.transaction().execute((trx) => this.o.write(trx, items));
  }

  private async flush(batch: WriteBatcher<T, R>['queue']): Promise<void> {
    try {
      const results = await this.write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      for (const b of batch) {
        try {
          const [result] = await this.write([b.item]);
          b.resolve(result!);
        } catch (itemErr) {
          b.reject(itemErr);
        }
      }
    }
  }
}
