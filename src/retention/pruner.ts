import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../storage/database.js';
import { deleteStaleFailures } from '../auth/login-throttle.js';
import { deleteFinished, finishedBefore } from '../storage/deliveries-repo.js';
import { deleteUnreferencedEvents } from '../storage/events-repo.js';
import { deleteSpentInvitations } from '../storage/invitations-repo.js';
import { deleteDismissedAlerts } from '../storage/operator-alerts-repo.js';
import { deleteTicksBefore } from '../storage/load-tests-repo.js';
import { deleteExpiredSessions } from '../storage/sessions-repo.js';
import { deleteExpiredTokens } from '../storage/tokens-repo.js';
import { deleteStaleChannelState } from '../storage/channel-state-repo.js';

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
  /** Rows per DELETE statement. */
  batchSize?: number;
  /** Pause between batches, so other writers get the database between them. */
  pauseMs?: number;
}

export interface PruneResult {
  deliveries: number;
  attempts: number;
  /** Events older than the retention that no delivery refers to any more. */
  events: number;
  /** Schedule ticks older than the retention (never one whose run may still be going). */
  scheduleTicks: number;
  /** Sign-in throttle rows whose window and lock had both passed. */
  loginFailures: number;
  /** Sessions past their expiry (they no longer sign anyone in). */
  sessions: number;
  /** Invitations used, revoked or expired, made longer ago than the retention. */
  invitations: number;
  /** API tokens expired longer ago than the retention. */
  tokens: number;
  /** What channels remembered (ChannelType.stateKey) and did not write again within the retention. */
  channelState: number;
  /** Operator alerts dismissed longer ago than the retention. */
  alerts: number;
}

/**
 * Deletes what grows with use once it is older than the retention: finished (delivered or
 * failed) deliveries with their attempt logs (pending ones are never touched, however old),
 * then the events no delivery refers to any more, and schedule ticks. Runs stay: they are the
 * run history. Also deletes what requests from anyone, signed in or not, leave behind once it
 * is spent: sign-in throttle rows, expired sessions, spent invitations and expired tokens,
 * and operator alerts dismissed long ago, so no table grows without bound.
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
          if (Object.values(r).some((n) => n > 0))
            this.o.log?.info(
              r,
              'deleted old deliveries, events and schedule ticks, spent sign-in rows, sessions, invitations, tokens and channel state',
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
   * One pass: deletes everything older than the retention at `now`, table by table, batch by
   * batch: each batch a bounded index read and a short transaction of its own, with a pause
   * after it, so the database is never held for long. Stops early (between batches) when the
   * pruner is stopped. Deliveries go first, so their events are free to go after them.
   */
  async pruneOnce(now = Date.now()): Promise<PruneResult> {
    const { db } = this.o;
    const cutoff = now - this.o.retentionDays * DAY_MS;
    const result: PruneResult = {
      deliveries: 0,
      attempts: 0,
      events: 0,
      scheduleTicks: 0,
      loginFailures: 0,
      sessions: 0,
      invitations: 0,
      tokens: 0,
      channelState: 0,
      alerts: 0,
    };
    await this.inBatches(async (limit) => {
      const ids = await finishedBefore(db.kysely, cutoff, limit);
      if (ids.length === 0) return 0;
      const deleted = await deleteFinished(db.kysely, ids);
      result.deliveries += deleted.deliveries;
      result.attempts += deleted.attempts;
      // A full batch of ids asks for another look, even if a row of it was no longer finished.
      return ids.length;
    });
    result.events = await this.inBatches((limit) => deleteUnreferencedEvents(db.kysely, cutoff, limit));
    result.scheduleTicks = await this.inBatches((limit) => deleteTicksBefore(db.kysely, cutoff, limit));
    result.loginFailures = await this.inBatches((limit) => deleteStaleFailures(db, now, limit));
    result.sessions = await this.inBatches((limit) => deleteExpiredSessions(db.kysely, now, limit));
    result.invitations = await this.inBatches((limit) =>
      deleteSpentInvitations(db.kysely, now, cutoff, limit),
    );
    result.tokens = await this.inBatches((limit) => deleteExpiredTokens(db.kysely, cutoff, limit));
    result.channelState = await this.inBatches((limit) => deleteStaleChannelState(db.kysely, cutoff, limit));
    result.alerts = await this.inBatches((limit) => deleteDismissedAlerts(db.kysely, cutoff, limit));
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
