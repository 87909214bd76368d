import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver } from '../helpers/receiver.js';
import { scheduleEnv } from '../helpers/schedules.js';
import { tmpdir } from 'node:os';

describe.each(DIALECTS)('a scheduled run notifies like any other (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_POLL_MS: '60000', ...scheduleEnv(tmpdir()) },
    });
  });
  afterAll(() => t?.close());

  it("sends the scheduled run's start and end as the scheduler reports them", async () => {
    const r = await startReceiver();
    // The claim loop is never told of new work and polls once a minute: the scheduler's status
    // changes must hand their deliveries to the engine, as the API's do. (On PostgreSQL a
    // NOTIFY would also wake it, were any delivery left for a claim.)
    const wake = t.server.ctx.onDeliveriesQueued;
    t.server.ctx.onDeliveriesQueued = () => {};
    const { loadTestId } = await seedLoadTest(t);
    try {
      const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'hook', url: r.url() },
      });
      expect(c.status).toBe(201);
      const scheduled = await t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, {
        body: { schedule: { command: [process.execPath, '-e', 'process.exit(0)'], cron: '* * * * * *' } },
      });
      expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
      const [started, finished] = await r.waitFor(2, 15_000);
      await t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, { body: { schedule: null } });
      const [a, b] = [JSON.parse(started!.body), JSON.parse(finished!.body)];
      expect([a.event, b.event]).toEqual(['test.started', 'test.finished']);
      expect(b.load_test_run_id).toBe(a.load_test_run_id);
      const run = await t.api('GET', `/api/v1/runs/${a.load_test_run_id}`);
      expect(run.body).toMatchObject({ trigger: 'scheduled', status: 'finished', load_test_id: loadTestId });
    } finally {
      t.server.ctx.onDeliveriesQueued = wake;
      await r.close();
    }
  });
});
