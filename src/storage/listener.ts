import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';

export interface ListenerOptions {
  connectionString: string;
  /**
   * What to call on a notification of each channel. Each is also called when the connection
   * comes up and when it drops: something may have been missed, and whoever relies on being
   * told (see `listening`) must look again and may fall back to polling.
   */
  channels: Record<string, () => void>;
  log: FastifyBaseLogger;
  /** Names the connection in pg_stat_activity. */
  applicationName?: string;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Holds one dedicated PostgreSQL connection that LISTENs on the given channels (queued
 * deliveries, changed schedules), so a process hears of what any process committed at once
 * instead of at its next poll. The connection is re-opened with exponential backoff whenever
 * it drops (a database restart); polling covers the gap, so a lost listener costs latency only.
 */
export class Listener {
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
    const { default: pg } = await import('pg');
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
      const wasListening = this.client === client;
      if (wasListening) this.client = null;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.stopped) return;
      this.o.log.warn({ err, retryInMs: this.backoffMs }, 'listener lost its connection; polling meanwhile');
      // Whoever slept counting on being told now polls instead.
      if (wasListening) this.wakeAll();
      this.retry();
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', (n) => this.o.channels[n.channel]?.());
    try {
      await client.connect();
      for (const channel of Object.keys(this.o.channels)) await client.query(`LISTEN ${channel}`);
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
    // Whatever was committed while we were not listening.
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of Object.values(this.o.channels)) wake();
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
