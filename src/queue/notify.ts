import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/** The PostgreSQL notification channel that says "deliveries were queued". */
export const DELIVERIES_CHANNEL = 'loadnotify_deliveries';

/**
 * Tells every worker process that deliveries were queued. Inside a transaction the notification
 * is sent on commit (and dropped on rollback), so a woken worker always finds the rows. SQLite
 * has one process, woken in-process, so this is a no-op there.
 */
export async function notifyDeliveriesQueued(k: Kysely<Database>): Promise<void> {
  if (!(k.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`SELECT pg_notify(${DELIVERIES_CHANNEL}, '')`.execute(k);
}
