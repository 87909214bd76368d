/**
 * SQLite: a delivery committed by another connection to the database file (the CLI, a bulk
 * import, an `api`-role process) wakes the idle engine at once, although nothing tells it in
 * process and it polls only once a minute.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/storage/database.js';
import { changeRunStatus } from '../../src/queue/enqueue.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

describe('a write by another connection wakes the idle engine (sqlite)', () => {
  let t: TestServer;
  let other: Db;
  let receiver: Receiver;
  beforeAll(async () => {
    t = await startTestServer('sqlite', {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_POLL_MS: '60000' },
    });
    other = await openDatabase({ databaseUrl: null, dataDir: t.store.dataDir, migrate: false });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await other?.close();
    await receiver?.close();
    await t?.close();
  });

  it('delivers what another connection committed in well under the minute it would sleep', async () => {
    const { loadTestId } = await seedLoadTest(t);
    const channel = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', url: receiver.url() },
    });
    expect(channel.status).toBe(201);
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    expect(run.status).toBe(201);
    // The engine has looked at the empty queue and sleeps.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const committed = Date.now();
    const changed = await changeRunStatus(other, run.body.id, { status: 'running' });
    expect(changed.queued).toBe(1);
    const [got] = await receiver.waitFor(1, 10_000);
    expect(JSON.parse(got!.body).event).toBe('test.started');
    expect(got!.at - committed).toBeLessThan(5_000);
  });
});
