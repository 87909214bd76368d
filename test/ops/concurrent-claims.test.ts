import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDue } from '../../src/queue/claim.js';
import type { Db } from '../../src/storage/database.js';
import { newWebhookId, pendingDelivery } from '../../src/queue/rows.js';
import { insertChannelRow, openProcessPools, openTestDb } from '../helpers/db.js';

const CHANNELS = 40;
const PER_CHANNEL = 25;
const WORKERS = 4;

/**
 * Several workers (each with its own connection pool, as separate processes have) claim from
 * one queue at once. With a lease far longer than the test, no delivery may be claimed twice:
 * that would be one event sent twice by two healthy processes.
 */
describe('concurrent claims on PostgreSQL', () => {
  let db: Db;
  let cleanup: () => Promise<void>;
  const pools: Db[] = [];
  beforeAll(async () => {
    let store;
    ({ db, store, cleanup } = await openTestDb('postgres'));
    pools.push(...(await openProcessPools(store, WORKERS)));
    const now = Date.now();
    const { id: organization_id } = await db.kysely
      .insertInto('organizations')
      .values({ name: 'Acme', created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (let c = 0; c < CHANNELS; c++) {
      const channel_id = await insertChannelRow(db, organization_id, `hook ${c}`);
      const { id: event_id } = await db.kysely
        .insertInto('events')
        .values({
          organization_id,
          run_id: null,
          type: 'test.notification_channel',
          data: '{}',
          created_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db.kysely
        .insertInto('deliveries')
        .values(
          Array.from({ length: PER_CHANNEL }, () =>
            pendingDelivery(
              {
                event_id,
                channel_id,
                organization_id,
                run_id: null,
                event_type: 'test.notification_channel',
                webhook_id: newWebhookId(),
                redelivery_of: null,
              },
              now - 1000,
            ),
          ),
        )
        .execute();
    }
  }, 60_000);
  afterAll(async () => {
    for (const p of pools) await p.close();
    await cleanup?.();
  });

  it('gives every delivery to exactly one worker', async () => {
    const claimedBy = new Map<number, string[]>();
    await Promise.all(
      pools.map(async (pool, w) => {
        const workerId = `w${w}`;
        for (let empty = 0; empty < 3;) {
          const claimed = await claimDue(pool, {
            limit: 20,
            workerId,
            leaseMs: 600_000,
            saturated: [],
            inFlight: new Map(),
            perChannel: 4,
            now: Date.now(),
          });
          if (claimed.length === 0) empty++;
          for (const d of claimed) claimedBy.set(d.id, [...(claimedBy.get(d.id) ?? []), workerId]);
        }
      }),
    );
    const twice = [...claimedBy].filter(([, workers]) => workers.length > 1);
    expect(twice).toEqual([]);
    expect(claimedBy.size).toBe(CHANNELS * PER_CHANNEL);
  }, 60_000);
});
