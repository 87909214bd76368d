import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/storage/database.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/storage/schema.js';
import { WriteBatcher } from '../../src/storage/write-batch.js';
import { DIALECTS, openTestDb } from '../helpers/db.js';

describe.each(DIALECTS)('write batches (%s)', (dialect) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  // Items are closures here, so one of them can fail on its own.
  type Piece = (trx: Kysely<Database>) => Promise<unknown>;
  let batcher: WriteBatcher<Piece, unknown>;
  const batches: number[] = [];
  beforeAll(async () => {
    ({ db, cleanup } = await openTestDb(dialect));
    batcher = new WriteBatcher<Piece, unknown>(db, {
      windowMs: 1000,
      write: async (trx, pieces) => {
        batches.push(pieces.length);
        const out: unknown[] = [];
        for (const piece of pieces) out.push(await piece(trx));
        return out;
      },
    });
  });
  afterAll(() => cleanup?.());

  const organizations = async () =>
    (await db.kysely.selectFrom('organizations').select('name').orderBy('id').execute()).map((o) => o.name);
  const addOrganization = (name: string) =>
    batcher.add(async (trx) => {
      const { id } = await trx
        .insertInto('organizations')
        .values({ name, created_at: Date.now() })
        .returning('id')
        .executeTakeFirstOrThrow();
      return id;
    });

  it('writes the pieces queued within its window together, each getting its own result', async () => {
    const first = addOrganization('a');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const ids = await Promise.all([first, addOrganization('b'), addOrganization('c')]);
    expect(new Set(ids).size).toBe(3);
    expect(batches).toEqual([3]);
    expect(await organizations()).toEqual(['a', 'b', 'c']);
  });

  it('a failing piece fails alone: the others of its batch are still written', async () => {
    const failing = batcher.add(async (trx) => {
      await trx
        .insertInto('organizations')
        .values({ name: 'half-written', created_at: Date.now() })
        .execute();
      throw new Error('this piece fails');
    });
    const results = await Promise.allSettled([addOrganization('d'), failing, addOrganization('e')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('this piece fails');
    // The failing piece's own write was rolled back with it.
    expect(await organizations()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('drained() writes what is queued at once instead of waiting out the window', async () => {
    const started = Date.now();
    const pending = addOrganization('f');
    await batcher.drained();
    expect(Date.now() - started).toBeLessThan(900);
    expect(await organizations()).toContain('f');
    await pending;
  });
});
