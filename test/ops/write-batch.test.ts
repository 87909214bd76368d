import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/storage/database.js';
import { inWriteBatch } from '../../src/storage/write-batch.js';
import { DIALECTS, openTestDb } from '../helpers/db.js';

describe.each(DIALECTS)('write batches (%s)', (dialect) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ db, cleanup } = await openTestDb(dialect));
  });
  afterAll(() => cleanup?.());

  const organizations = async () =>
    (await db.kysely.selectFrom('organizations').select('name').orderBy('id').execute()).map((o) => o.name);
  const addOrganization = (name: string) =>
    inWriteBatch(db, async (trx) => {
      const { id } = await trx
        .insertInto('organizations')
        .values({ name, created_at: Date.now() })
        .returning('id')
        .executeTakeFirstOrThrow();
      return id;
    });

  it('writes the pieces queued in one turn together, each getting its own result', async () => {
    const ids = await Promise.all([addOrganization('a'), addOrganization('b'), addOrganization('c')]);
    expect(new Set(ids).size).toBe(3);
    expect(await organizations()).toEqual(['a', 'b', 'c']);
  });

  it('a failing piece fails alone: the others of its batch are still written', async () => {
    const failing = inWriteBatch(db, async (trx) => {
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
});
