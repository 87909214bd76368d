import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../storage/database.js';
import { deleteStaleFailures } from '../auth/login-throttle.js';
import { deleteFinished, finishedBefore, lastDeliveryId } from '../storage/deliveries-repo.js';
import { deleteSpentInvitations } from '../storage/invitations-repo.js';
import { deleteExpiredSessions } from '../storage/sessions-repo.js';
import { deleteExpiredTokens } from '../storage/tokens-repo.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface PrunerOptions {
  db: Db;
  /** Finished deliveries last updated longer ago than this are deleted. */
  retentionDays: number;
  log?: FastifyBaseLogger;
  /** Time between passes; an hour unless told. */
  intervalMs?: number;
  /**
   * The first pass runs this long after start (10 minutes: not at once, startup has other
   * work; and not within the first minute, which a quiet service should spend asleep).
   */
  initialDelayMs?: number;
  /** Ids per DELETE statement. */
  batchSize?: number;
  /** Width of the id range each look covers (see pruneOnce). */
  scanIds?: number;
  /** Pause between batches, so other writers get the database between them. */
  pauseMs?: number;
}

export interface PruneResult {
  deliveries: number;
  attempts: number;
  /** Sign-in throttle rows whose window and lock had both passed. */
  loginFailures: number;
  /** Sessions past their expiry (they no longer sign anyone in). */
  sessions: number;
  /** Invitations used, revoked or expired, made longer ago than the retention. */
  invitations: number;
  /** API tokens expired longer ago than the retention. */
  tokens: number;
}

/**
 * Deletes finished (delivered or failed) deliveries, and their attempt logs, once they are older
 * than the retention. Pending deliveries are never touched, however old. Events and runs stay:
 * they belong to the run history, not to the delivery log. Also deletes what requests from
 * anyone, signed in or not, leave behind once it is spent: sign-in throttle rows and expired
 * sessions, so those tables cannot grow without bound.
 *
 * Work is done in small batches, each its own short transaction with a pause after it, so a
 * large backlog never holds a long lock against the delivery engine or the API.
 */
export class RetentionPruner {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopping = false;
  private current: Promise<unknown> | null = null;
  private readonly o: Required<Omit<PrunerOptions, 'log'>> & { log: FastifyBaseLogger | undefined };

  constructor(options: PrunerOptions) {
    this.o = {
      db: options.db,
      retentionDays: options.retentionDays,
      log: options.log,
      intervalMs: options.intervalMs ?? 60 * 60 * 1000,
      initialDelayMs: options.initialDelayMs ?? 10 * 60_000,
      batchSize: options.batchSize ?? 1000,
      scanIds: options.scanIds ?? 2_000,
      pauseMs: options.pauseMs ?? 50,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.schedule(this.o.initialDelayMs);
  }

  /** Stops the timer and waits for a pass in progress to finish its current batch. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.current = this.pruneOnce()
        .then((r) => {
          if (r.deliveries + r.loginFailures + r.sessions + r.invitations + r.tokens > 0)
            this.o.log?.info(
              r,
              'deleted old deliveries, spent sign-in rows, sessions, invitations and tokens',
            );
        })
        .catch((err: unknown) =>
          this.o.log?.warn({ err }, 'pruning old deliveries failed; trying again later'),
        )
        .finally(() => {
          this.current = null;
          this.schedule(this.o.intervalMs);
        });
    }, ms);
    this.timer.unref();
  }

  /**
   * One pass: deletes every finished delivery older than the retention at `now`, batch by
   * batch. Stops early (between batches) when the pruner is stopped.
   *
   * Nothing indexes the age of finished rows (every completion would pay for it), so the pass
   * walks the table in id ranges of `scanIds`, each look a bounded range read. One query for
   * the whole table held the event loop for as long as SQLite took to read it all whenever
   * little was old enough: with its cache cold, 75 ms for 100,000 deliveries and 353 ms for
   * 1,000,000. Looks of 2,000 ids kept every wait under 15 ms on the same tables.
   */
  async pruneOnce(now = Date.now()): Promise<PruneResult> {
    const { db, batchSize, scanIds } = this.o;
    const cutoff = now - this.o.retentionDays * DAY_MS;
    const result: PruneResult = {
      deliveries: 0,
      attempts: 0,
      loginFailures: 0,
      sessions: 0,
      invitations: 0,
      tokens: 0,
    };
    const lastId = await lastDeliveryId(db.kysely);
    for (let after = 0; after < lastId && !this.stopping;) {
      const upTo = after + scanIds;
      const ids = await finishedBefore(db.kysely, { after, upTo }, cutoff, batchSize);
      // A full batch may leave more in this range: the next look starts after its last id.
      after = ids.length === batchSize ? ids[ids.length - 1]! : upTo;
      if (ids.length === 0) {
        // Other work gets the event loop between looks, as between deletes.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const deleted = await deleteFinished(db.kysely, ids);
      result.attempts += deleted.attempts;
      result.deliveries += deleted.deliveries;
      await new Promise((resolve) => setTimeout(resolve, this.o.pauseMs));
    }
    result.loginFailures = await this.inBatches((limit) => deleteStaleFailures(db, now, limit));
    result.sessions = await this.inBatches((limit) => deleteExpiredSessions(db.kysely, now, limit));
    result.invitations = await this.inBatches((limit) =>
      deleteSpentInvitations(db.kysely, now, cutoff, limit),
    );
    result.tokens = await this.inBatches((limit) => deleteExpiredTokens(db.kysely, cutoff, limit));
    return result;
  }

  /** Runs `batch` until it deletes less than a full batch, pausing between, as above. */
  private async inBatches(batch: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    while (!this.stopping) {
      const n = await batch(this.o.batchSize);
      total += n;
      if (n < this.o.batchSize) break;
      await new Promise((resolve) => setTimeout(resolve, this.o.pauseMs));
    }
    return total;
  }
}
