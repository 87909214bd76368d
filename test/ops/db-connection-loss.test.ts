/**
 * A PostgreSQL connection that dies while a transaction holds it (a database restart, a
 * failover, an administrator's pg_terminate_backend) must fail that transaction with an error
 * the API answers as 503 — and must not crash the process: pg emits 'error' on a checked-out
 * client, which Node throws when nobody listens.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/http/error-handler.js';
import type { Db } from '../../src/storage/database.js';
import { openTestDb, PG_BASE_URL } from '../helpers/db.js';

describe('losing a PostgreSQL connection in the middle of a transaction', () => {
  let db: Db;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ db, cleanup } = await openTestDb('postgres'));
  });
  afterAll(() => cleanup());

  it('fails that transaction as "database unavailable" and the next one works', async () => {
    const admin = new pg.Client({ connectionString: PG_BASE_URL });
    await admin.connect();
    try {
      const failed = await db.kysely
        .transaction()
        .execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          // The connection dies while this transaction holds it but runs no query.
          await new Promise((r) => setTimeout(r, 300));
          await sql`SELECT 1`.execute(trx);
        })
        .then(
          () => null,
          (err: unknown) => err,
        );
      expect(failed).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(failed), String(failed)).toBe(true);
    } finally {
      await admin.end();
    }
    const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(db.kysely);
    expect(rows[0]!.one).toBe(1);
  });
});
