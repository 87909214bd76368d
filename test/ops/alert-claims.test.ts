import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/storage/database.js';
import { claimAlert, dueAlertIds, recordDisabled } from '../../src/storage/operator-alerts-repo.js';
import { insertChannelRow, openProcessPools, openTestDb } from '../helpers/db.js';

const ALERTS = 30;
const PROCESSES = 4;

/**
 * Several processes (each with its own connection pool, as separate processes have) see the
 * same operator alerts due and try to take them at once: each alert must be taken by exactly
 * one of them, or its owners would get its e-mail twice.
 */
describe('operator alerts taken by one process on PostgreSQL', () => {
  let db: Db;
  let cleanup: () => Promise<void>;
  const pools: Db[] = [];
  beforeAll(async () => {
    let store;
    ({ db, store, cleanup } = await openTestDb('postgres'));
    pools.push(...(await openProcessPools(store, PROCESSES)));
    const now = Date.now();
    const { id } = await db.kysely
      .insertInto('organizations')
      .values({ name: 'Acme', created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (let i = 0; i < ALERTS; i++) {
      const channelId = await insertChannelRow(db, id, `hook ${i}`);
      await db.kysely.transaction().execute((trx) => recordDisabled(trx, channelId, 'HTTP 410', now));
    }
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await db?.close();
    await cleanup?.();
  });

  it('each due alert is claimed once, however many processes race for it', async () => {
    const now = Date.now();
    const ids = await dueAlertIds(db.kysely, now, 100);
    expect(ids).toHaveLength(ALERTS);
    // Every process goes through the whole list at once, as each saw it due.
    const taken = await Promise.all(
      pools.map(async (p) => {
        const mine: number[] = [];
        for (const id of ids) if (await claimAlert(p.kysely, id, now, 60_000)) mine.push(id);
        return mine;
      }),
    );
    const all = taken.flat().sort((a, b) => a - b);
    expect(all).toEqual([...ids].sort((a, b) => a - b));
    // Held: none is due to anyone again until the claim runs out.
    expect(await dueAlertIds(db.kysely, now + 1, 100)).toEqual([]);
    expect(await dueAlertIds(db.kysely, now + 60_001, 100)).toHaveLength(ALERTS);
  });
});
