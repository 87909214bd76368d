import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Deleting a channel locks its row, then cascades to its deliveries; recording an outcome
// locks a delivery, then counts a failure on its channel. Here the two meet for real on
// PostgreSQL: a transaction of our own holds a delivery the way a completion does, the DELETE
// comes, and then the transaction reaches for the channel's row. PostgreSQL aborts the side
// that waited first, the DELETE, which must be run again rather than answer 500.
/** Resolves once a backend runs a statement starting with `prefix` and waits for a lock. */
async function waitForLockWait(url: string, prefix: string): Promise<void> {
  const watcher = new pg.Client({ connectionString: url });
  await watcher.connect();
  try {
    const deadline = Date.now() + 5000;
    for (;;) {
      const { rows } = await watcher.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
        [`${prefix}%`],
      );
      if (rows.length > 0) return;
      if (Date.now() > deadline) throw new Error(`no statement ${prefix}... waited for a lock`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await watcher.end();
  }
}

describe('deleting a channel while its delivery is being recorded (postgres)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('postgres');
  });
  afterAll(() => t.close());

  it('goes through once the other side commits, after PostgreSQL breaks the deadlock', async () => {
    const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', url: 'https://example.com/hook' },
    });
    expect(c.status).toBe(201);
    const k = t.server.ctx.db.kysely;
    const now = Date.now();
    const event = await k
      .insertInto('events')
      .values({
        organization_id: t.organizationId,
        run_id: null,
        type: 'test.started',
        data: '{}',
        created_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const delivery = await k
      .insertInto('deliveries')
      .values({
        event_id: event.id,
        channel_id: c.body.id,
        organization_id: t.organizationId,
        run_id: null,
        event_type: 'test.started',
        webhook_id: 'msg_deadlock',
        redelivery_of: null,
        state: 'pending',
        attempts: 0,
        // Not due for an hour: the engine leaves it alone.
        next_attempt_at: now + 3_600_000,
        lease_until: null,
        lease_owner: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();

    const other = new pg.Client({ connectionString: t.store.databaseUrl! });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('UPDATE deliveries SET attempts = 1 WHERE id = $1', [delivery.id]);
      const deleting = t.api('DELETE', `/api/v1/notification-channels/${c.body.id}`);
      // Once the DELETE holds the channel's row and waits for the delivery's:
      await waitForLockWait(t.store.databaseUrl!, 'delete from "notification_channels"');
      // This waits for the DELETE's lock: a cycle, which PostgreSQL breaks after deadlock_timeout
      // (1 s) by aborting the DELETE, the side that waited first. Then this one goes on.
      await other.query(
        'UPDATE notification_channels SET consecutive_failures = consecutive_failures + 1 WHERE id = $1',
        [c.body.id],
      );
      await other.query('COMMIT');
      const res = await deleting;
      expect(res.status).toBe(204);
      expect((await t.api('GET', `/api/v1/notification-channels/${c.body.id}`)).status).toBe(404);
      const left = await k.selectFrom('deliveries').select('id').where('id', '=', delivery.id).execute();
      expect(left).toEqual([]);
    } finally {
      await other.end();
    }
  });
});
