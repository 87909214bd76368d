import type { FastifyBaseLogger } from 'fastify';
import type { AlertSnapshot } from '../core/events.js';
import type { SystemMailer } from '../mail/system-mailer.js';
import { recordEvent } from '../queue/enqueue.js';
import type { Db } from '../storage/database.js';
import {
  alertDispatched,
  alertMailFailed,
  channelPageUrl,
  claimAlert,
  dueAlertIds,
  managerEmails,
  markOperationsQueued,
  nextAlertDue,
  type AlertWithChannel,
} from '../storage/operator-alerts-repo.js';
import { findOrganization, operationsChannelOf } from '../storage/organizations-repo.js';
import { iso } from '../storage/time.js';
import { alertMail } from './alert-mail.js';

/**
 * How long a process holds an alert it is mailing before another may take it over (the process
 * died): longer than nodemailer's own timeouts (10 minutes of a silent socket at most), so a
 * slow mail server never gets the same alert from two processes.
 */
const CLAIM_MS = 15 * 60_000;
/** Alerts one pass takes at most; a full pass asks for another at once. */
const BATCH = 20;
/** Mail attempts per alert; then it is left `failed`, with the error, on the banner still. */
export const MAX_MAIL_ATTEMPTS = 5;
/** Waits before mail attempts 2..5 (a minute, then 5, 15 and 60). */
const MAIL_RETRY_MS = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000];
/** An idle look for alerts another process wrote and could not dispatch (it stopped, or crashed). */
const FALLBACK_LOOK_MS = 60 * 60_000;

export interface AlertDispatcherOptions {
  db: Db;
  /** The operator's mail server (LOADNOTIFY_SMTP_URL), or null: the banner and channel only. */
  mailer: SystemMailer | null;
  publicUrl: () => string;
  log: FastifyBaseLogger;
  /** Called once an operations channel's delivery has been committed (wakes the engine). */
  onDeliveriesQueued: () => void;
  /** Multiplies the mail's retry delays (tests and demos only, as LOADNOTIFY_RETRY_SCALE). */
  retryScale?: number;
}

/**
 * Tells an organization's owners and admins of the alerts its failures wrote (see
 * operator-alerts-repo.ts): an e-mail through the system mailer, and a notification on its
 * operations channel. The process that wrote an alert dispatches it when its transaction has
 * committed (`kick`); one that could not (it crashed in between, the mail server was down) is
 * found again at its next due time or by the hourly look, by any process. A process takes an
 * alert with a conditional UPDATE first, so with several of them exactly one dispatches it.
 */
export class AlertDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private pass: Promise<void> | null = null;
  private again = false;

  constructor(private readonly o: AlertDispatcherOptions) {}

  /** Looks at once: an alert written before a crash or a restart is due now. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.kick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  /** Alerts were committed: dispatch what is due now. */
  kick(): void {
    if (!this.running) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pass = this.dispatchDue()
      .catch((err: unknown) => {
        this.o.log.warn({ err }, 'dispatching operator alerts failed; trying again later');
        return false;
      })
      .then(async (full) => {
        const next = full || this.again ? 0 : await this.nextDelay();
        this.again = false;
        this.pass = null;
        this.schedule(next);
      });
  }

  private async nextDelay(): Promise<number> {
    try {
      const at = await nextAlertDue(this.o.db.kysely);
      return at === null ? FALLBACK_LOOK_MS : Math.min(FALLBACK_LOOK_MS, Math.max(0, at - Date.now()));
    } catch {
      return 60_000;
    }
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (ms === 0) return this.kick();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, ms);
    this.timer.unref();
  }

  /** One pass over what is due; whether it took a full batch (more may be waiting). */
  async dispatchDue(now = Date.now()): Promise<boolean> {
    const ids = await dueAlertIds(this.o.db.kysely, now, BATCH);
    for (const id of ids) {
      if (!this.running) break;
      const alert = await claimAlert(this.o.db.kysely, id, now, CLAIM_MS);
      if (alert) await this.dispatch(alert);
    }
    return ids.length === BATCH;
  }

  private async dispatch(alert: AlertWithChannel): Promise<void> {
    const { db, log } = this.o;
    const snapshot = this.snapshot(alert);
    if (alert.operations_queued === 0) {
      // Its mail goes regardless: the owners hear of it even if the channel cannot.
      await this.toOperationsChannel(alert, snapshot).catch((err: unknown) =>
        log.warn({ err, alert: alert.id }, 'cannot queue an operator alert for the operations channel'),
      );
    }
    const to = this.o.mailer ? await managerEmails(db.kysely, alert.organization_id) : [];
    if (!this.o.mailer || to.length === 0) return alertDispatched(db.kysely, alert.id, null);
    try {
      const org = await findOrganization(db.kysely, alert.organization_id);
      if (!org) throw new Error(`organization ${alert.organization_id} is gone`);
      // One mail per alert to its organization's owners and admins, and nobody else.
      await this.o.mailer.send({ to: to.join(', '), ...alertMail(snapshot, org.name) });
      await alertDispatched(db.kysely, alert.id, Date.now());
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const attempt = alert.dispatch_attempts;
      const wait = MAIL_RETRY_MS[attempt - 1];
      const retryAt =
        attempt >= MAX_MAIL_ATTEMPTS || wait === undefined
          ? null
          : Date.now() + Math.round(wait * (this.o.retryScale ?? 1));
      log.warn({ err, alert: alert.id, attempt, retryAt }, 'cannot e-mail an operator alert');
      await alertMailFailed(db.kysely, alert.id, error, retryAt);
    }
  }

  /**
   * The organization's operations channel hears of it too, through the queue like any event,
   * unless it is the failing channel itself (its own failures would only fail again there),
   * switched off, or muted (a maintenance window: the banner and the mail still tell).
   * Written with the mark that it was, so a retried mail does not send it twice.
   */
  private async toOperationsChannel(alert: AlertWithChannel, snapshot: AlertSnapshot): Promise<void> {
    const queued = await this.o.db.kysely.transaction().execute(async (trx) => {
      if (!(await markOperationsQueued(trx, alert.id))) return false;
      const channel = await operationsChannelOf(trx, alert.organization_id);
      if (!channel || channel.id === alert.channel_id || channel.enabled !== 1) return false;
      if (channel.muted_until !== null && channel.muted_until > Date.now()) return false;
      const data = { type: 'notification_channel.alert' as const, run: null, alert: snapshot };
      await recordEvent(trx, alert.organization_id, data, { onlyChannelId: channel.id });
      return true;
    });
    if (queued) this.o.onDeliveriesQueued();
  }

  private snapshot(a: AlertWithChannel): AlertSnapshot {
    return {
      id: a.id,
      kind: a.kind,
      organization_id: a.organization_id,
      channel: {
        id: a.channel_id,
        name: a.channel_name,
        type: a.channel_type,
        url: channelPageUrl(this.o.publicUrl(), a.channel_id),
      },
      reason: a.reason,
      count: a.count,
      first_at: iso(a.created_at),
      last_at: iso(a.updated_at),
    };
  }
}
