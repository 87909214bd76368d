/**
 * Scheduled runs owned by a process of another machine (another boot or pid namespace): on
 * PostgreSQL they are ended once their owner's lease has run out and left alone while it holds;
 * on SQLite (one machine owns the file) such an owner is a past boot's and its run is ended. A
 * command recorded on another machine is never signalled here, whatever its pid names here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { eventually } from '../helpers/receiver.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { scheduleEnv, scheduleFixtures } from '../helpers/schedules.js';

const fixtures = scheduleFixtures();
afterAll(() => fixtures.cleanup());

describe.each(DIALECTS)('scheduled runs of an owner on another machine (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    // A short lease, renewed every 300 ms (the lease must outlast a delivery's timeout).
    t = await startTestServer(dialect, {
      env: {
        LOADNOTIFY_DELIVERY_TIMEOUT_MS: '500',
        LOADNOTIFY_LEASE_MS: '900',
        ...scheduleEnv(fixtures.dir),
      },
    });
  });
  afterAll(() => t?.close());

  /** A running scheduled run and its tick, owned by a process of another machine until `leaseUntil`. */
  async function ownedRun(tickAt: number, leaseUntil: number) {
    const { loadTestId } = await seedLoadTest(t, { project: `P${tickAt}`, loadTest: `LT${tickAt}` });
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      body: { trigger: 'scheduled' },
    });
    expect(
      (await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } })).status,
    ).toBe(200);
    const tick = await t.server.ctx.db.kysely
      .insertInto('schedule_ticks')
      .values({
        load_test_id: loadTestId,
        tick_at: tickAt,
        fired_by: 'db-host-2/4242/cafe0001',
        run_id: run.body.id,
        outcome: 'started',
        reason: null,
        created_at: Date.now(),
        owner_pid: 4242,
        owner_started: '123456',
        owner_space: 'another-boot-id pid:[4026531836]',
        owner_lease_until: leaseUntil,
        // This test's own pid: signalled, it would end the test run.
        child_pid: process.pid,
        child_started: '123457',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { runId: run.body.id as number, tickId: tick.id };
  }

  const tickRow = (id: number) =>
    t.server.ctx.db.kysely
      .selectFrom('schedule_ticks')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();

  it('ends the run once the owner is taken for dead, and leaves its command to its machine', async () => {
    const expired = await ownedRun(1, Date.now() - 1_000);
    await t.server.scheduler!.refresh();
    const run = await eventually(async () => {
      const r = await t.api('GET', `/api/v1/runs/${expired.runId}`);
      return r.body.status === 'running' ? undefined : r.body;
    });
    expect(run.status).toBe('aborted_by_system');
    expect(run.errors[0].detail).toBe(
      'the loadnotify server running it (db-host-2/4242/cafe0001) stopped while it ran',
    );
    const tick = await tickRow(expired.tickId);
    expect(tick.reason).toMatch(/run ended aborted_by_system; its command ran on another machine$/);
    expect(tick.owner_lease_until).toBeNull();
    // Kept for the server that starts next on that machine.
    expect(tick.child_pid).toBe(process.pid);
  });

  it(
    dialect === 'postgres'
      ? 'leaves the run of an owner whose lease still holds'
      : 'ends the run of a past boot, lease or not',
    async () => {
      const held = await ownedRun(2, Date.now() + 10 * 60_000);
      await t.server.scheduler!.refresh();
      await t.server.scheduler!.refresh();
      const run = await t.api('GET', `/api/v1/runs/${held.runId}`);
      const tick = await tickRow(held.tickId);
      if (dialect === 'postgres') {
        expect(run.body.status).toBe('running');
        expect(tick.owner_lease_until).not.toBeNull();
      } else {
        expect(run.body.status).toBe('aborted_by_system');
        expect(tick.owner_lease_until).toBeNull();
      }
    },
  );

  it('the owner renews its lease while its run goes, and clears it and the command when it ends', async () => {
    const { loadTestId } = await seedLoadTest(t, { project: 'Renewals', loadTest: 'Sleeps' });
    const scheduled = await t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, {
      body: { schedule: { command: fixtures.SLEEP(3_000), cron: '* * * * * *' } },
    });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
    const ticks = () =>
      t.server.ctx.db.kysely
        .selectFrom('schedule_ticks')
        .selectAll()
        .where('load_test_id', '=', loadTestId)
        .where('outcome', '=', 'started')
        .orderBy('id')
        .execute();
    const first = await eventually(async () => (await ticks()).find((k) => k.child_pid !== null), 10_000);
    await t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, { body: { schedule: { enabled: false } } });
    const lease = first.owner_lease_until!;
    // Renewed past the first lease while the command still sleeps.
    await eventually(async () => {
      const now = (await tickRow(first.id)).owner_lease_until;
      return now !== null && now > lease ? true : undefined;
    }, 5_000);
    const ended = await eventually(async () => {
      const row = await tickRow(first.id);
      return row.owner_lease_until === null ? row : undefined;
    }, 15_000);
    expect(ended.child_pid).toBeNull();
    const run = await t.api('GET', `/api/v1/runs/${ended.run_id}`);
    expect(run.body.status).toBe('finished');
  });
});
