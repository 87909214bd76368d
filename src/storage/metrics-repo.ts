/**
 * The small aggregate reads behind the /metrics gauges, run on each scrape. They count the
 * stored rows, so with several processes on one database each one reports the shared queue
 * and history, not just its own share.
 */
import type { Kysely } from 'kysely';
import { isPending } from './deliveries-repo.js';
import type { Database } from './schema.js';

/** Deliveries waiting to be sent. */
export async function pendingCount(k: Kysely<Database>): Promise<number> {
  const row = await k
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll().as('n'))
    .where(isPending)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** When the oldest pending delivery was made (epoch ms), or null when none waits. */
export async function oldestPendingAt(k: Kysely<Database>): Promise<number | null> {
  const row = await k
    .selectFrom('deliveries')
    .select((eb) => eb.fn.min('created_at').as('at'))
    .where(isPending)
    .executeTakeFirst();
  return row?.at == null ? null : Number(row.at);
}

/** Channels switched off, by a person or after failing deliveries. */
export async function disabledChannelCount(k: Kysely<Database>): Promise<number> {
  const row = await k
    .selectFrom('notification_channels')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('enabled', '=', 0)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Events stored. They are recorded in many code paths (API, scheduler, runner reports) and
 * processes; a count of the rows is right whichever recorded them.
 */
export async function eventCount(k: Kysely<Database>): Promise<number> {
  const row = await k
    .selectFrom('events')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
