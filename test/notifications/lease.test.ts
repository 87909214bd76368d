import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { INTERRUPTED_REASON } from '../../src/queue/take-over.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { DIALECTS, retryMigrationRace } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/receiver.js';

/** A receiver that answers 200 only after `delayMs`, counting the requests it gets. */
async function slowReceiver(delayMs: number) {
  const arrivals: number[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(Date.now());
      setTimeout(() => res.end('ok'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(DIALECTS)('a send outliving its lease (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_DELIVERY_TIMEOUT_MS: '3000' },
      // The configuration refuses a lease shorter than the delivery timeout; this simulates a
      // send stalled past its lease (a paused process), which the engine must still not repeat.
      configOverride: { leaseMs: 200 },
    });
  });
  afterAll(() => t?.close());

  it('is not sent again by the same engine while it is still in flight', async () => {
    const r = await slowReceiver(1000);
    try {
      const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'slow', url: r.url },
      });
      expect(c.status).toBe(201);
      const hook = await t.api('POST', `/api/v1/notification-channels/${c.body.id}/test`);
      expect(hook.body.outcome).toBe('delivered');
      const d = await eventually(async () => {
        const got = await t.api('GET', `/api/v1/deliveries/${hook.body.delivery.id}`);
        return got.body.state === 'pending' ? undefined : got.body;
      });
      await new Promise((res) => setTimeout(res, 300));
      expect(r.arrivals).toHaveLength(1);
      expect(d.state).toBe('delivered');
      expect(d.attempts.map((a: any) => [a.number, a.outcome])).toEqual([[1, 'delivered']]);
    } finally {
      await r.close();
    }
  });
});

describe.each(DIALECTS)('a delivery that waits here for a slot past half its lease (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    // One slot per channel, a receiver that answers after 2.1 s, a lease of 4 s: the second of
    // two runs' starts waits at least 2.1 s for the slot, past half its lease. The timeout
    // leaves the receiver 1.4 s to spare on a busy machine.
    t = await startTestServer(dialect, {
      env: {
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        LOADNOTIFY_DELIVERY_TIMEOUT_MS: '3500',
        LOADNOTIFY_LEASE_MS: '4000',
        LOADNOTIFY_PER_CHANNEL: '1',
      },
    });
  });
  afterAll(() => t?.close());

  it('is given back to claims unsent, and goes out as its first attempt', async () => {
    const r = await slowReceiver(2100);
    try {
      const { loadTestId } = await seedLoadTest(t);
      const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'slow', url: r.url },
      });
      expect(c.status).toBe(201);
      const runs = [];
      for (let i = 0; i < 2; i++)
        runs.push((await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} })).body.id);
      for (const id of runs)
        expect(
          (await t.api('POST', `/api/v1/runs/${id}/status`, { body: { status: 'running' } })).status,
        ).toBe(200);
      for (const id of runs) {
        const [item] = (await t.api('GET', `/api/v1/runs/${id}/deliveries`)).body.items;
        const d = await eventually(async () => {
          const got = await t.api('GET', `/api/v1/deliveries/${item.id}`);
          return got.body.state === 'delivered' ? got.body : undefined;
        }, 15_000);
        // Not an attempt cut short and counted, then a second: the unsent one was taken back.
        expect(d.attempts.map((a: any) => [a.number, a.outcome])).toEqual([[1, 'delivered']]);
      }
      expect(r.arrivals).toHaveLength(2);
    } finally {
      await r.close();
    }
  });
});

describe.each(DIALECTS)(
  'an answer that comes after another worker took the delivery over (%s)',
  (dialect) => {
    // Worker A sends and its receiver holds the answer (a 503); A's lease (300 ms) runs
    // out meanwhile, and worker B, on the same database, takes the delivery over: it logs A's
    // attempt as interrupted (its outcome unknown then) and sends again, answered 200 at once.
    // A's answer then arrives. It must overwrite neither the interrupted mark nor B's outcome
    // (the delivery stays delivered, not pending for a retry): it is logged as its own, later
    // attempt, so the log reads in the order things happened.
    const secret = randomBytes(32).toString('base64');
    const env = {
      LOADNOTIFY_SECRET_KEY: secret,
      LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
      LOADNOTIFY_DELIVERY_TIMEOUT_MS: '30000',
    };
    let a: TestServer;
    let b: RunningServer | null = null;
    beforeAll(async () => {
      // The configuration refuses a lease shorter than the delivery timeout: a stalled send.
      a = await startTestServer(dialect, { env, configOverride: { leaseMs: 300 } });
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
    });

    it('is logged as its own late attempt, after the interrupted mark and the take-over', async () => {
      // A's request is answered (503) only once B's has been answered (200): on a loaded machine
      // B may take a while to start and take over, and A's answer must come after it all the same.
      let answerFirst: (() => void) | null = null;
      let requests = 0;
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          requests++;
          if (requests === 1) {
            answerFirst = () => res.writeHead(503).end('first, late');
            return;
          }
          res.end('second', () => setTimeout(() => answerFirst?.(), 200));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      try {
        const { loadTestId } = await seedLoadTest(a);
        const c = await a.api('POST', `/api/v1/organizations/${a.organizationId}/notification-channels`, {
          body: { type: 'webhook', name: 'slow', url: receiverUrl },
        });
        expect(c.status).toBe(201);
        const run = await a.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
        await a.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
        await eventually(async () => (requests >= 1 ? true : undefined), 5000, "A's request");
        const config = loadConfig({
          PORT: '0',
          HOST: '127.0.0.1',
          DATA_DIR: a.store.dataDir,
          LOG_LEVEL: 'silent',
          ...(a.store.databaseUrl ? { DATABASE_URL: a.store.databaseUrl } : {}),
          ...env,
          LOADNOTIFY_ROLE: 'worker',
        });
        b = await retryMigrationRace(() => startServer({ ...config, leaseMs: 300 }, { logger: false }));
        const [item] = (await a.api('GET', `/api/v1/runs/${run.body.id}/deliveries`)).body.items;
        const d = await eventually(
          async () => {
            const got = await a.api('GET', `/api/v1/deliveries/${item.id}`);
            return got.body.attempts.length >= 3 ? got.body : undefined;
          },
          30_000,
          "the late answer's attempt",
        );
        expect(requests).toBe(2);
        expect(d.state).toBe('delivered');
        expect(d.attempts.map((x: any) => [x.number, x.outcome, x.response_status, x.response_body])).toEqual(
          [
            [1, 'interrupted', null, null],
            [2, 'delivered', 200, 'second'],
            [3, 'retry', 503, 'first, late'],
          ],
        );
        expect(d.attempts[0].error).toBe(INTERRUPTED_REASON);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  },
);
