import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Db, type Dialect } from '../../src/storage/database.js';

export const DIALECTS: Dialect[] = ['sqlite', 'postgres'];

/** PostgreSQL for tests: CI's server, trust auth, database `test`. */
export const PG_BASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestStore {
  dialect: Dialect;
  dataDir: string;
  /** DATABASE_URL for a server process using this store, or null for SQLite under dataDir. */
  databaseUrl: string | null;
  cleanup(): Promise<void>;
}

/**
 * A fresh, isolated store: a SQLite file in a temp dir, or a PostgreSQL schema of its own
 * (selected through the connection's search_path), so test files never share state.
 */
export async function createTestStore(dialect: Dialect): Promise<TestStore> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'loadnotify-test-'));
  if (dialect === 'sqlite') {
    return {
      dialect,
      dataDir,
      databaseUrl: null,
      cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_BASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = new URL(PG_BASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    dialect,
    dataDir,
    databaseUrl: url.toString(),
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_BASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Kysely's migrator introspects every schema of the database; when another test file drops its
 * schema at that moment, PostgreSQL reports the vanished schema. Only tests create and drop
 * schemas concurrently, so one retry here covers every test that opens a store.
 */
export async function retryMigrationRace<T>(open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    if (!/migration.*(does not exist|failed)/i.test((err as Error).message)) throw err;
    await new Promise((r) => setTimeout(r, 100));
    return open();
  }
}

export async function openTestDb(
  dialect: Dialect,
): Promise<{ db: Db; store: TestStore; cleanup(): Promise<void> }> {
  const store = await createTestStore(dialect);
  const db = await retryMigrationRace(() =>
    openDatabase({ databaseUrl: store.databaseUrl, dataDir: store.dataDir, poolSize: 4 }),
  );
  return {
    db,
    store,
    cleanup: async () => {
      await db.close();
      await store.cleanup();
    },
  };
}

/**
 * `n` connection pools of two on one store, as `n` separate processes would have: for races
 * between processes (claims, alert dispatch). The caller closes them.
 */
export async function openProcessPools(store: TestStore, n: number): Promise<Db[]> {
  const pools: Db[] = [];
  for (let i = 0; i < n; i++)
    pools.push(
      await retryMigrationRace(() =>
        openDatabase({ databaseUrl: store.databaseUrl, dataDir: store.dataDir, poolSize: 2 }),
      ),
    );
  return pools;
}

/**
 * A channel row for storage-level tests (claims, pruning)
 * that never send: the URL is not a sealed one and the row is written straight to the table.
 */
export async function insertChannelRow(db: Db, organizationId: number, name = 'hook'): Promise<number> {
  const now = Date.now();
  const { id } = await db.kysely
    .insertInto('notification_channels')
    .values({
      organization_id: organizationId,
      type: 'webhook',
      name,
      url_sealed: 'x',
      url_redacted: 'http://example.com/****',
      enabled: 1,
      status_scheme: 'k6',
      project_ids: null,
      events: '{}',
      config: '{}',
      disabled_reason: null,
      consecutive_failures: 0,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}
