import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** PostgreSQL notification channels: what one process tells the others it committed. */
export const NOTIFY_CHANNELS = {
  /** Deliveries were queued (or made due again). */
  deliveries: 'loadnotify_deliveries',
  /** A load test's schedule was set, changed, disabled or deleted. */
  schedules: 'loadnotify_schedules',
} as const;

export type NotifyChannel = keyof typeof NOTIFY_CHANNELS;

/**
 * Tells every process listening on PostgreSQL (see Listener). Inside a transaction the
 * notification is sent on commit (and dropped on rollback), so whoever is told finds the rows.
 * SQLite has one serving process, told in-process, so this is a no-op there.
 */
export async function notifyProcesses(k: Kysely<Database>, channel: NotifyChannel): Promise<void> {
  if (!(k.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`SELECT pg_notify(${NOTIFY_CHANNELS[channel]}, '')`.execute(k);
}
