/**
 * Durability across a crash: the real server, as its own process, is killed with SIGKILL while
 * deliveries are in flight, then started again on the same store. Every event must still reach
 * the receiver (at least once, de-duplicable by webhook-id) and nothing may stay pending.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../helpers/build.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { createTestStore, DIALECTS, type TestStore } from '../helpers/db.js';
import { makeApi } from '../helpers/server.js';
import { eventually, startReceiver, type Received } from '../helpers/receiver.js';

const RUNS = 20;
/** Requests the receiver leaves hanging: the engine's per-channel cap, so all sends in flight hang. */
const HANG = 4;

let entry = '';
let cleanupBuild: () => Promise<void> = async () => {};

beforeAll(async () => {
  ({ entry, cleanup: cleanupBuild } = await buildServer());
}, 60_000);
afterAll(() => cleanupBuild());

/** The real server on `store`, with short timeouts so hung sends end within the test. */
function startProcess(store: TestStore, secretKey: string): Promise<ServeProcess> {
  return startServe({
    entry,
    env: {
      DATA_DIR: store.dataDir,
      ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
      LOADNOTIFY_SECRET_KEY: secretKey,
      LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
      LOADNOTIFY_LEASE_MS: '2000',
      LOADNOTIFY_DELIVERY_TIMEOUT_MS: '1500',
      LOADNOTIFY_RETRY_SCALE: '0.01',
    },
  });
}

describe.each(DIALECTS)('a SIGKILL while deliveries are in flight loses nothing (%s)', (dialect) => {
  let store: TestStore;
  let first: ServeProcess | null = null;
  let second: ServeProcess | null = null;
  beforeAll(async () => {
    store = await createTestStore(dialect);
  });
  afterAll(async () => {
    await first?.stop('SIGKILL');
    await second?.stop('SIGTERM');
    await store?.cleanup();
  });

  it('redelivers every (run, event) after a restart on the same store', async () => {
    const answered200: Received[] = [];
    const receiver = await startReceiver((n, req) => {
      if (n <= HANG) return 'hang';
      answered200.push(req);
      return { status: 200, body: 'ok' };
    });
    try {
      const secretKey = randomBytes(32).toString('base64');
      first = await startProcess(store, secretKey);
      let token = '';
      let api = makeApi(first.url, () => token || null);
      const setup = await api('POST', '/api/v1/setup', {
        body: { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' },
      });
      expect(setup.status).toBe(201);
      token = setup.body.token;
      const orgId = setup.body.organization.id;
      const project = await api('POST', `/api/v1/organizations/${orgId}/projects`, { body: { name: 'Web' } });
      const loadTest = await api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
        body: { name: 'Load test' },
      });
      const channel = await api('POST', `/api/v1/organizations/${orgId}/notification-channels`, {
        body: { type: 'webhook', name: 'hook', url: receiver.url() },
      });
      expect(channel.status, JSON.stringify(channel.body)).toBe(201);

      // Runs are created and moved concurrently (each run in order), so every event is recorded
      // well before the hung sends reach LOADNOTIFY_DELIVERY_TIMEOUT_MS.
      const runIds = await Promise.all(
        Array.from({ length: RUNS }, async () => {
          const run = await api('POST', `/api/v1/load-tests/${loadTest.body.id}/runs`, { body: {} });
          expect(run.status).toBe(201);
          const started = await api('POST', `/api/v1/runs/${run.body.id}/status`, {
            body: { status: 'running' },
          });
          expect(started.status).toBe(200);
          const finished = await api('POST', `/api/v1/runs/${run.body.id}/status`, {
            body: { status: 'finished', result: 'passed' },
          });
          expect(finished.status).toBe(200);
          return run.body.id as number;
        }),
      );
      // Sends are in flight (the receiver holds them): now the process dies without a word.
      await receiver.waitFor(HANG, 10_000);
      const deliveredBeforeKill = answered200.length;
      await first.stop('SIGKILL');
      expect(first.child.signalCode).toBe('SIGKILL');

      second = await startProcess(store, secretKey);
      api = makeApi(second.url, () => token || null);
      const expected = runIds.flatMap((id) => [`${id}/test.started`, `${id}/test.finished`]);
      const key = (r: Received) => {
        const body = JSON.parse(r.body) as { load_test_run_id: number; event: string };
        return `${body.load_test_run_id}/${body.event}`;
      };
      await eventually(
        async () => (new Set(answered200.map(key)).size === expected.length ? true : undefined),
        20_000,
        `all ${expected.length} events answered 200 (got ${new Set(answered200.map(key)).size})`,
      );
      expect([...new Set(answered200.map(key))].sort()).toEqual([...expected].sort());

      // De-duplication by webhook-id: one id per (run, event), whichever attempt carried it.
      const idsByKey = new Map<string, Set<string>>();
      for (const r of receiver.requests) {
        const k = key(r);
        const ids = idsByKey.get(k) ?? new Set<string>();
        ids.add(String(r.headers['webhook-id']));
        idsByKey.set(k, ids);
      }
      expect([...idsByKey.values()].every((ids) => ids.size === 1)).toBe(true);
      const uniqueIds = new Set(receiver.requests.map((r) => String(r.headers['webhook-id'])));
      expect(uniqueIds.size).toBe(expected.length);
      const duplicates = receiver.requests.length - uniqueIds.size;
      // The hung sends came again after the restart; a delivery answered 200 is never sent twice.
      expect(duplicates).toBeGreaterThanOrEqual(HANG);
      expect(answered200.length - new Set(answered200.map((r) => r.headers['webhook-id'])).size).toBe(0);
      console.info(
        `[restart ${dialect}] requests ${receiver.requests.length}, unique webhook-ids ${uniqueIds.size}, duplicates ${duplicates}, answered 200 before the kill ${deliveredBeforeKill}`,
      );

      // The delivery log ends with nothing pending and every delivery delivered.
      const log = await eventually(async () => {
        const pending = await api(
          'GET',
          `/api/v1/notification-channels/${channel.body.id}/deliveries?state=pending`,
        );
        return pending.body.items.length === 0 ? pending : undefined;
      }, 10_000);
      expect(log.status).toBe(200);
      const all = await api('GET', `/api/v1/notification-channels/${channel.body.id}/deliveries?limit=500`);
      expect(all.body.items).toHaveLength(expected.length);
      expect(all.body.items.every((d: any) => d.state === 'delivered')).toBe(true);

      // The log tells what happened to the sends the kill cut short: each is an attempt of its
      // own that ended without an answer, numbered before the one that was delivered; none is
      // left looking as if it were still in progress.
      const details = await Promise.all(
        all.body.items.map(async (d: any) => (await api('GET', `/api/v1/deliveries/${d.id}`)).body),
      );
      const cut = details.filter((d: any) => d.attempts.length > 1);
      expect(cut.length).toBeGreaterThanOrEqual(HANG);
      for (const d of details) {
        expect(d.attempts.map((a: any) => a.number)).toEqual(
          d.attempts.map((_: unknown, i: number) => i + 1),
        );
        expect(d.attempts.every((a: any) => a.outcome !== null)).toBe(true);
        expect(d.attempts.at(-1).outcome).toBe('delivered');
        expect(d.attempts.length).toBe(d.attempts.at(-1).number);
      }
      for (const d of cut) {
        expect(d.attempts.slice(0, -1).every((a: any) => a.response_status === null && a.error)).toBe(true);
      }
    } finally {
      await receiver.close();
    }
  }, 45_000);
});
