import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { DELIVERIES_CHANNEL } from '../queue/notify.js';

export interface ListenerOptions {
  connectionString: string;
  /** Called for each notification, and after each (re)connect in case one was missed. */
  onWake: () => void;
  log: FastifyBaseLogger;
  /** Names the connection in pg_stat_activity. */
  applicationName?: string;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Holds one dedicated connection that LISTENs for queued deliveries, so a worker process hears
 * about work committed by any process at once instead of at its next poll. The connection is
 * re-opened with exponential backoff whenever it drops (a database restart); polling keeps
 * delivering meanwhile, so a lost listener only costs latency.
 */
export class DeliveryListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private backoffMs: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly o: ListenerOptions) {
    this.minBackoffMs = o.minBackoffMs ?? 100;
    this.maxBackoffMs = o.maxBackoffMs ?? 10_000;
    this.backoffMs = this.minBackoffMs;
  }

  /** Connects in the background; resolves once the first attempt has succeeded or failed. */
  start(): Promise<void> {
    return this.connect();
  }

  get listening(): boolean {
    return this.client !== null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.o.connectionString,
      application_name: this.o.applicationName ?? 'loadnotify-listener',
      connectionTimeoutMillis: 5000,
      keepAlive: true,
    });
    let dropped = false;
    const drop = (err?: Error) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = null;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.stopped) return;
      this.o.log.warn(
        { err, retryInMs: this.backoffMs },
        'delivery listener lost its connection; polling meanwhile',
      );
      this.retry();
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', () => this.o.onWake());
    try {
      await client.connect();
      await client.query(`LISTEN ${DELIVERIES_CHANNEL}`);
    } catch (err) {
      drop(err as Error);
      return;
    }
    if (this.stopped || dropped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.backoffMs = this.minBackoffMs;
    // Whatever was queued while we were not listening.
    this.o.onWake();
  }

  private retry(): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}
