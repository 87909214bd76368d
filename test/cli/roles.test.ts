/**
 * `serve --role` as real processes: a worker answers only /healthz, /readyz and /metrics (and
 * still delivers what an api process queues); an api process keeps to LOADNOTIFY_PG_POOL_SIZE
 * connections, and a bad pool size stops the start with a message naming it.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../helpers/build.js';
import { createTestStore, DIALECTS, type TestStore } from '../helpers/db.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { makeApi } from '../helpers/server.js';

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ entry, cleanup: cleanupBuild } = await buildServer());
}, 60_000);
afterAll(() => cleanupBuild());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function envFor(store: TestStore, secret: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: store.dataDir,
    ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
    LOADNOTIFY_SECRET_KEY: secret,
    LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
    ...more,
  };
}

describe.each(DIALECTS)('serve --role worker (%s)', (dialect) => {
  let store: TestStore;
  let worker: ServeProcess;
  const secret = randomBytes(32).toString('base64');
  beforeAll(async () => {
    store = await createTestStore(dialect);
    worker = await startServe({ entry, role: 'worker', env: envFor(store, secret) });
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await store?.cleanup();
  });

  it('answers /healthz, /readyz and /metrics', async () => {
    expect((await fetch(`${worker.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${worker.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, accepting: true, database: true });
    const metrics = await fetch(`${worker.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/loadnotify_/);
  });

  it('serves no API, no OpenAPI document and no web app: a 404 that says why', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/setup'],
      ['POST', '/api/v1/setup'],
      ['GET', '/api/v1/me'],
      ['GET', '/api/openapi.json'],
      ['GET', '/'],
      ['GET', '/index.html'],
      ['GET', '/organizations/1'],
    ] as const) {
      const res = await fetch(`${worker.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: 'Bearer nope' },
        body: method === 'POST' ? '{}' : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(404);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('not_found');
      expect(body.error.message).toContain('--role worker');
      expect(body.error.message).toContain('/healthz, /readyz and /metrics');
    }
  });
});

describe('serve --role api and --role worker on one PostgreSQL database', () => {
  let store: TestStore;
  let apiProcess: ServeProcess;
  let worker: ServeProcess;
  let receiver: Receiver;
  const secret = randomBytes(32).toString('base64');
  const appName = `roles-test-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    store = await createTestStore('postgres');
    receiver = await startReceiver();
    // PGAPPNAME names the pool's connections (the listener names its own), so the test can count them.
    apiProcess = await startServe({
      entry,
      role: 'api',
      env: envFor(store, secret, { LOADNOTIFY_PG_POOL_SIZE: '2', PGAPPNAME: appName }),
    });
    worker = await startServe({ entry, role: 'worker', env: envFor(store, secret) });
  }, 60_000);
  afterAll(async () => {
    await apiProcess?.stop();
    await worker?.stop();
    await receiver?.close();
    await store?.cleanup();
  });

  it('the api process serves the API; the worker delivers what it queues', async () => {
    let token = '';
    const api = makeApi(apiProcess.url, () => token || null);
    const setup = await api('POST', '/api/v1/setup', {
      body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
    });
    expect(setup.status).toBe(201);
    token = setup.body.token;
    const orgId = setup.body.organization.id as number;
    const project = await api('POST', `/api/v1/organizations/${orgId}/projects`, { body: { name: 'Web' } });
    const loadTest = await api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
      body: { name: 'Checkout' },
    });
    const channel = await api('POST', `/api/v1/organizations/${orgId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', url: receiver.url() },
    });
    expect(channel.status).toBe(201);
    const run = await api('POST', `/api/v1/load-tests/${loadTest.body.id}/runs`, { body: {} });
    expect(
      (await api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } })).status,
    ).toBe(200);
    const got = await eventually(
      async () => receiver.requests.find((r) => r.headers['x-loadimpact-event'] === 'test.started'),
      15_000,
      'the worker to deliver test.started',
    );
    expect(JSON.parse(got.body).load_test_run_id).toBe(run.body.id);
  });

  it('the api process opens at most LOADNOTIFY_PG_POOL_SIZE connections', async () => {
    const holder = new pg.Client({ connectionString: store.databaseUrl! });
    await holder.connect();
    // Another connection counts: inside the holder's transaction, pg_stat_activity is a snapshot.
    const counter = new pg.Client({ connectionString: store.databaseUrl! });
    await counter.connect();
    const count = async () =>
      Number(
        (
          await counter.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [
            appName,
          ])
        ).rows[0].n,
      );
    try {
      // Every request that reads users waits on this lock, holding a pool connection.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const requests = Array.from({ length: 8 }, () =>
        fetch(`${apiProcess.url}/api/v1/setup`).catch(() => null),
      );
      await eventually(async () => ((await count()) >= 2 ? true : undefined), 10_000, 'connections to open');
      // Room for a pool of 10 to open the other six (it would, at once).
      await sleep(500);
      expect(await count()).toBe(2);
      await holder.query('ROLLBACK');
      await Promise.all(requests);
    } finally {
      await holder.end();
      await counter.end();
    }
  });
});

describe('LOADNOTIFY_PG_POOL_SIZE', () => {
  it('refuses a value that is not a whole number above 0, naming it (exit 78)', () => {
    for (const bad of ['0', 'ten', '2.5', '-1']) {
      const res = spawnSync(process.execPath, [entry, 'serve'], {
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
          LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
          LOADNOTIFY_PG_POOL_SIZE: bad,
        },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(res.status, bad).toBe(78);
      expect(res.stderr).toContain(`LOADNOTIFY_PG_POOL_SIZE must be a whole number above 0, got "${bad}"`);
    }
  });
});
