import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inIds, insertRows, notInIds } from '../../src/storage/bulk-params.js';
import type { Db } from '../../src/storage/database.js';
import { DIALECTS, openTestDb } from '../helpers/db.js';

// The claim and the batched outcomes pass their lists and rows as one parameter each: what
// comes out of the database must be exactly what went in, whatever the values hold.
describe.each(DIALECTS)('lists as one parameter, and rows written in bulk (%s)', (dialect) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ db, cleanup } = await openTestDb(dialect));
  });
  afterAll(() => cleanup?.());

  const columns = [
    ['id', 'bigint'],
    ['n', 'integer'],
    ['label', 'text'],
  ] as const;
  let table = 0;
  /** A fresh table per test, so each reads back only its own rows. */
  const scratch = async () => {
    const name = `bulk_rows_${++table}`;
    await sql`CREATE TABLE ${sql.table(name)} (id bigint PRIMARY KEY, n integer, label text)`.execute(
      db.kysely,
    );
    return name;
  };

  it('gives back every row and value, nulls, quotes, unicode and long text included', async () => {
    const rows = [
      [1, 0, 'plain'],
      [2, null, null],
      [4, 123456, 'x'.repeat(20_000)],
      [2 ** 40, -7, `quotes ' " \\ and unicode ✓ 🚀, a newline\nand a tab\t`],
    ];
    const name = await scratch();
    const returned = await insertRows<{ id: number }>(dialect, db.kysely, name, columns, rows, ['id']);
    expect(returned.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual(rows.map((r) => r[0]));
    const { rows: out } = await sql<{ id: number; n: number | null; label: string | null }>`
      SELECT id, n, label FROM ${sql.table(name)} ORDER BY id`.execute(db.kysely);
    expect(out.map((r) => [Number(r.id), r.n === null ? null : Number(r.n), r.label])).toEqual(rows);
  });

  it('works with no rows at all', async () => {
    const name = await scratch();
    expect(await insertRows(dialect, db.kysely, name, columns, [], ['id'])).toEqual([]);
    const { rows } = await sql`SELECT id FROM ${sql.table(name)}`.execute(db.kysely);
    expect(rows).toEqual([]);
  });

  it('matches ids in a list, and nothing in an empty list; NOT IN the same, everything for an empty list', async () => {
    const { rows } = await sql<{ id: number }>`
      SELECT id FROM organizations WHERE ${inIds(dialect, 'id', [])}`.execute(db.kysely);
    expect(rows).toEqual([]);
    const ids: number[] = [];
    for (const name of ['a', 'b', 'c']) {
      const { id } = await db.kysely
        .insertInto('organizations')
        .values({ name, created_at: Date.now() })
        .returning('id')
        .executeTakeFirstOrThrow();
      ids.push(id);
    }
    const picked = await sql<{ id: number }>`
      SELECT id FROM organizations WHERE ${inIds(dialect, 'id', [ids[0]!, ids[2]!])} ORDER BY id`.execute(
      db.kysely,
    );
    expect(picked.rows.map((r) => Number(r.id))).toEqual([ids[0], ids[2]]);
    const others = await sql<{ id: number }>`
      SELECT o.id FROM organizations o WHERE ${notInIds(dialect, 'o.id', [ids[1]!])} AND ${inIds(dialect, 'o.id', ids)}
      ORDER BY o.id`.execute(db.kysely);
    expect(others.rows.map((r) => Number(r.id))).toEqual([ids[0], ids[2]]);
    const all = await sql<{ id: number }>`
      SELECT id FROM organizations WHERE ${notInIds(dialect, 'id', [])} AND ${inIds(dialect, 'id', ids)}
      ORDER BY id`.execute(db.kysely);
    expect(all.rows.map((r) => Number(r.id))).toEqual(ids);
  });

  // A table that grew since it was last analyzed (a fresh deployment, a queue that filled up):
  // PostgreSQL has no statistics, and `IN (SELECT unnest(...))` was planned as a hash join
  // over a sequential scan of the whole table. The list must go to the index whatever the
  // statistics say.
  it.runIf(dialect === 'postgres')('looks ids up by index on a table never analyzed', async () => {
    const name = await scratch();
    await sql`INSERT INTO ${sql.table(name)} (id, n, label)
      SELECT g, g, repeat('x', 500) FROM generate_series(1, 50000) AS g`.execute(db.kysely);
    await sql`CREATE INDEX ${sql.raw(`${name}_n`)} ON ${sql.table(name)} (n)`.execute(db.kysely);
    const plan = async (where: ReturnType<typeof inIds>) => {
      const { rows } = await sql<{ 'QUERY PLAN': string }>`
        EXPLAIN UPDATE ${sql.table(name)} SET label = 'y' WHERE ${where} AND label IS NULL`.execute(
        db.kysely,
      );
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    const ids = Array.from({ length: 30 }, (_, i) => 49_900 + i);
    expect(await plan(inIds(dialect, 'n', ids))).not.toMatch(/Seq Scan/);
    // The form it replaces, to show the test can tell them apart.
    const unnested = sql`n IN (SELECT unnest(${ids}::bigint[]))`;
    expect(await plan(unnested)).toMatch(/Seq Scan/);
  });
});
