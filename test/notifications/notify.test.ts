/**
 * Cross-process wake-ups on PostgreSQL: an API-only server commits a status change and a worker
 * server on the same schema delivers it at once. Both poll only every 30 s, so the test can pass
 * only through LISTEN/NOTIFY; the listener must also come back after its connection is killed.
 * A schedule set through the API server is planned by the worker's scheduler at once too (it
 * reloads schedules on its own only every minute).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTestStore, PG_BASE_URL, retryMigrationRace, type TestStore } from '../helpers/db.js';
import { makeApi, type Api } from '../helpers/server.js';
import { scheduleEnv } from '../helpers/schedules.js';
import { tmpdir } from 'node:os';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';

describe('LISTEN/NOTIFY wakes a worker process for work committed by another (postgres)', () => {
  let store: TestStore;
  let apiServer: RunningServer;
  let worker: RunningServer;
  let receiver: Receiver;
  const secret = randomBytes(32).toString('base64');

  const start = (role: 'api' | 'worker') =>
    retryMigrationRace(() =>
      startServer(
        loadConfig({
          PORT: '0',
          HOST: '127.0.0.1',
          DATA_DIR: store.dataDir,
          DATABASE_URL: store.databaseUrl!,
          LOADNOTIFY_SECRET_KEY: secret,
          LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
          LOADNOTIFY_ROLE: role,
          LOADNOTIFY_POLL_MS: '30000',
          LOG_LEVEL: 'silent',
          ...scheduleEnv(tmpdir()),
        }),
        { logger: false },
      ),
    );

  let api: Api;
  let orgId = 0;
  beforeAll(async () => {
    store = await createTestStore('postgres');
    receiver = await startReceiver();
    apiServer = await start('api');
    worker = await start('worker');
    let token = '';
    api = makeApi(apiServer.url, () => token || null);
    const setup = await api('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    token = setup.body.token;
    orgId = setup.body.organization.id;
  });
  const newLoadTest = async (name: string) => {
    const project = await api('POST', `/api/v1/organizations/${orgId}/projects`, { body: { name } });
    const loadTest = await api('POST', `/api/v1/projects/${project.body.id}/load-tests`, { body: { name } });
    return loadTest.body.id as number;
  };
  afterAll(async () => {
    await apiServer?.close();
    await worker?.close();
    await receiver?.close();
    await store?.cleanup();
  });

  it('delivers in well under the poll interval, also after the listening connection was killed', async () => {
    expect(apiServer.engine).toBeNull();
    const loadTestId = await newLoadTest('Checkout');
    const channel = await api('POST', `/api/v1/organizations/${orgId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', url: receiver.url() },
    });
    expect(channel.status).toBe(201);
    // The worker has looked at the empty queue and now sleeps for its 30 s poll.
    await new Promise((r) => setTimeout(r, 300));

    const run = await api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    let committed = Date.now();
    await api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
    const [first] = await receiver.waitFor(1, 5000);
    expect(first!.at - committed).toBeLessThan(3000);

    // A database restart, as far as this worker can tell: its listening connection is killed.
    const admin = new pg.Client({ connectionString: PG_BASE_URL });
    await admin.connect();
    try {
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
        [`loadnotify-listener ${worker.engine!.workerId}`],
      );
      expect(killed.rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    // Reconnected (with backoff) and listening again, under a new backend.
    await eventually(
      async () => {
        const c = new pg.Client({ connectionString: PG_BASE_URL });
        await c.connect();
        try {
          const r = await c.query(
            `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
            [`loadnotify-listener ${worker.engine!.workerId}`],
          );
          return r.rowCount === 1 ? true : undefined;
        } finally {
          await c.end();
        }
      },
      5000,
      'the listener to reconnect',
    );

    committed = Date.now();
    await api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'finished' } });
    const received = await receiver.waitFor(2, 5000);
    expect(received[1]!.at - committed).toBeLessThan(3000);
    expect(received.map((r) => JSON.parse(r.body).event)).toEqual(['test.started', 'test.finished']);
  });

  it("sends a run's next notification as soon as the one ahead of it ends, also when another process wrote it", async () => {
    // The API server commits test.finished while the worker is still sending test.started
    // (its receiver answers after 1.5 s): the follower waits in the database behind it, and
    // only the end of the one ahead frees it. The worker that ends it learned nothing of the
    // follower from its own writes; it sleeps for a minute when nothing else wakes it.
    const slow = await startReceiver((n) => ({ status: 200, afterMs: n === 1 ? 1500 : 0 }));
    try {
      const loadTestId = await newLoadTest('Ordered');
      const channel = await api('POST', `/api/v1/organizations/${orgId}/notification-channels`, {
        body: { type: 'webhook', name: 'slow hook', url: slow.url() },
      });
      expect(channel.status).toBe(201);
      const run = await api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
      await api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
      await slow.waitFor(1, 5000);
      const finished = await api('POST', `/api/v1/runs/${run.body.id}/status`, {
        body: { status: 'finished' },
      });
      expect(finished.status).toBe(200);
      const firstAnsweredBy = slow.requests[0]!.at + 1500;
      const received = await slow.waitFor(2, 10_000);
      expect(received.map((r) => JSON.parse(r.body).event)).toEqual(['test.started', 'test.finished']);
      expect(received[1]!.at - firstAnsweredBy).toBeLessThan(3000);
    } finally {
      await slow.close();
    }
  });

  it("plans a schedule set through another process at once, from the change's own time", async () => {
    expect(apiServer.scheduler).toBeNull();
    const loadTestId = await newLoadTest('Nightly');
    const set = await api('PATCH', `/api/v1/load-tests/${loadTestId}`, {
      body: { schedule: { command: [process.execPath, '-e', 'process.exit(0)'], cron: '* * * * * *' } },
    });
    const answeredAt = Date.now();
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    try {
      const ticks = await eventually(
        async () => {
          const r = await api('GET', `/api/v1/load-tests/${loadTestId}/schedule-ticks`);
          return r.body.items.length > 0
            ? (r.body.items as { tick_at: string; fired_by: string }[])
            : undefined;
        },
        10_000,
        'the worker to fire the schedule',
      );
      const first = ticks.at(-1)!;
      // The first whole second after the change (which came before the answer): a second of
      // room for the notification to travel. Without it the worker would reload within a minute.
      expect(Date.parse(first.tick_at)).toBeLessThanOrEqual(Math.floor(answeredAt / 1000) * 1000 + 2000);
      expect(first.fired_by).toBe(worker.scheduler!.instanceId);
    } finally {
      await api('PATCH', `/api/v1/load-tests/${loadTestId}`, { body: { schedule: null } });
    }
  });
});
