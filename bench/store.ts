/** The benchmark's own access to the service's database: seeding in bulk and counting. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { sql } from 'kysely';
import type { RunSnapshot } from '../src/core/events.js';
import { openDatabase, type Db } from '../src/storage/database.js';
import { recordEvent } from '../src/queue/enqueue.js';
import { iso } from '../src/storage/time.js';

export interface Store {
  dialect: 'sqlite' | 'postgres';
  dataDir: string;
  databaseUrl: string | null;
  cleanup(): Promise<void>;
}

/** A temp DATA_DIR for SQLite; with a PostgreSQL base URL, a fresh schema dropped at the end. */
export async function createStore(baseUrl: string | undefined): Promise<Store> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'loadnotify-bench-'));
  if (!baseUrl) {
    return {
      dialect: 'sqlite',
      dataDir,
      databaseUrl: null,
      cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  // psql takes a URL without a user name to mean the login user; pg needs to be told (and the
  // service process gets no USER in its environment).
  const base = new URL(baseUrl);
  if (!base.username) base.username = process.env.PGUSER ?? userInfo().username;
  baseUrl = base.toString();
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const admin = async (query: string) => {
    const c = new pg.Client({ connectionString: baseUrl });
    await c.connect();
    try {
      await c.query(query);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE SCHEMA ${schema}`);
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    dialect: 'postgres',
    dataDir,
    databaseUrl: url.toString(),
    cleanup: async () => {
      await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function openStore(store: Store): Promise<Db> {
  return openDatabase({
    databaseUrl: store.databaseUrl,
    dataDir: store.dataDir,
    migrate: false,
    poolSize: 4,
  });
}

export interface Target {
  organizationId: number;
  projectId: number;
  loadTestId: number;
  projectName: string;
  loadTestName: string;
}

/** Runs in status `created`, straight into the table: setting up a phase is not what is measured. */
export async function insertRuns(db: Db, t: Target, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i += 500) {
    const now = Date.now();
    const rows = Array.from({ length: Math.min(500, n - i) }, () => ({
      load_test_id: t.loadTestId,
      project_id: t.projectId,
      organization_id: t.organizationId,
      user_id: null,
      trigger: 'api',
      status: 'created',
      result: null,
      summary: null,
      created_at: now,
      started_at: null,
      ended_at: null,
    }));
    const inserted = await db.kysely.insertInto('runs').values(rows).returning('id').execute();
    ids.push(...inserted.map((r) => r.id));
  }
  return ids;
}

/**
 * `n` test.started events, each of its own running run, through the outbox's recordEvent, `batch`
 * events per transaction: the bulk path, as a runner or an importer would write. Stops at
 * `deadline` and returns how many were written.
 */
export async function insertEvents(
  db: Db,
  t: Target,
  n: number,
  batch = 200,
  deadline = Infinity,
): Promise<number> {
  const runIds = await insertRuns(db, t, n);
  let inserted = 0;
  for (let i = 0; i < n && Date.now() < deadline; i += batch) {
    await db.kysely.transaction().execute(async (trx) => {
      const now = Date.now();
      const ids = runIds.slice(i, i + batch);
      await trx
        .updateTable('runs')
        .set({ status: 'running', started_at: now })
        .where('id', 'in', ids)
        .execute();
      for (const id of ids) {
        const run: RunSnapshot = {
          run_id: id,
          load_test_id: t.loadTestId,
          load_test_name: t.loadTestName,
          project_id: t.projectId,
          project_name: t.projectName,
          organization_id: t.organizationId,
          user_id: null,
          trigger: 'api',
          status: 'running',
          result: null,
          created_at: iso(now),
          started_at: iso(now),
          ended_at: null,
          summary: null,
        };
        await recordEvent(trx, t.organizationId, { type: 'test.started', run });
      }
    });
    inserted += Math.min(batch, n - i);
  }
  return inserted;
}

export async function maxDeliveryId(db: Db): Promise<number> {
  const row = await db.kysely
    .selectFrom('deliveries')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/**
 * Deliveries after `afterId` that are delivered, their attempts recorded as delivered, and the
 * other attempts (retried after a timeout or error, or still without an outcome).
 */
export async function countDelivered(
  db: Db,
  afterId: number,
  channelIds?: number[],
): Promise<{ delivered: number; attempts: number; total: number; otherAttempts: number }> {
  const only = channelIds ? sql`AND d.channel_id IN (${sql.join(channelIds)})` : sql``;
  const { rows } = await sql<{ delivered: number; total: number }>`
    SELECT SUM(CASE WHEN d.state = 'delivered' THEN 1 ELSE 0 END) AS delivered, COUNT(*) AS total
    FROM deliveries d WHERE d.id > ${afterId} ${only}`.execute(db.kysely);
  const attempts = await sql<{ n: number; other: number }>`
    SELECT SUM(CASE WHEN a.outcome = 'delivered' THEN 1 ELSE 0 END) AS n,
      SUM(CASE WHEN a.outcome = 'delivered' THEN 0 ELSE 1 END) AS other
    FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
    WHERE d.id > ${afterId} ${only}`.execute(db.kysely);
  return {
    delivered: Number(rows[0]?.delivered ?? 0),
    total: Number(rows[0]?.total ?? 0),
    attempts: Number(attempts.rows[0]?.n ?? 0),
    otherAttempts: Number(attempts.rows[0]?.other ?? 0),
  };
}

/**
 * What the deliveries after `afterId` that are not delivered look like, grouped: their state,
 * attempts, whether leased and by how far the lease or the next attempt lies from now. Said
 * when a phase misses its deadline, so a stuck delivery is seen, not guessed at.
 */
export async function unfinished(db: Db, afterId: number, channelIds?: number[]): Promise<string> {
  const only = channelIds ? sql`AND channel_id IN (${sql.join(channelIds)})` : sql``;
  const now = Date.now();
  const { rows } = await sql<{
    state: string;
    attempts: number;
    leased: number;
    lease_s: number | null;
    next_s: number;
    n: number;
  }>`
    SELECT state, attempts, CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END AS leased,
      MIN(lease_until - ${now}) / 1000 AS lease_s, MIN(next_attempt_at - ${now}) / 1000 AS next_s,
      COUNT(*) AS n
    FROM deliveries WHERE id > ${afterId} AND state <> 'delivered' ${only}
    GROUP BY state, attempts, CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END`.execute(db.kysely);
  if (rows.length === 0) return 'none in the database (recorded late)';
  return rows
    .map(
      (r) =>
        `${r.n} ${r.state}, ${r.attempts} attempts, ${Number(r.leased) ? `leased (expires in ${Number(r.lease_s).toFixed(0)} s)` : 'not leased'}, next attempt ${Number(r.next_s).toFixed(0)} s from now`,
    )
    .join('; ');
}

/** webhook-id -> [run id, channel id] of the deliveries after `afterId`. */
export async function deliveryKeys(db: Db, afterId: number): Promise<Map<string, [number, number]>> {
  const rows = await db.kysely
    .selectFrom('deliveries')
    .select(['webhook_id', 'run_id', 'channel_id'])
    .where('id', '>', afterId)
    .execute();
  return new Map(rows.map((r) => [r.webhook_id, [Number(r.run_id), r.channel_id]]));
}
