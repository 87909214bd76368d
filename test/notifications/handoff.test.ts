import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, startReceiver } from '../helpers/receiver.js';

/**
 * A receiver that answers each request after `delayMs` (with `status(n)` for the n-th, 200 by
 * default), counting how many it holds at once.
 */
async function slowReceiver(delayMs: number, status: (n: number) => number = () => 200) {
  const arrivals: { event: string; run: number; at: number }[] = [];
  let open = 0;
  let mostOpen = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      open++;
      mostOpen = Math.max(mostOpen, open);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      arrivals.push({ event: body.event, run: body.load_test_run_id, at: Date.now() });
      const answer = status(arrivals.length);
      setTimeout(() => {
        open--;
        res.writeHead(answer).end('ok');
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    arrivals,
    mostOpen: () => mostOpen,
    close: () =>
      new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** A new run of the load test, through the API. */
async function newRun(t: TestServer, loadTestId: number) {
  return (await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} })).body;
}

/** A run's status change, through the API. */
function moveRun(t: TestServer, id: number, status: string) {
  return t.api('POST', `/api/v1/runs/${id}/status`, { body: { status } });
}

/** A webhook channel of the test organization, sending to `url`. */
async function addChannel(t: TestServer, url: string) {
  const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
    body: { type: 'webhook', name: 'hook', url },
  });
  expect(c.status).toBe(201);
  return c.body;
}

describe.each(DIALECTS)('status changes handed to the engine as they commit (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_POLL_MS: '60000' },
    });
    ({ loadTestId } = await seedLoadTest(t));
  });
  afterAll(() => t.close());

  const run = () => newRun(t, loadTestId);
  const move = (id: number, status: string) => moveRun(t, id, status);
  const channel = (url: string) => addChannel(t, url);
  const removeChannel = (id: number) => t.api('DELETE', `/api/v1/notification-channels/${id}`);

  it('sends a status change without waking or polling the claim loop', async () => {
    const r = await startReceiver();
    const c = await channel(r.url());
    // Nothing tells the claim loop about new work, and it polls once a minute: only the
    // hand-off, written with the status change, can get these out. (On PostgreSQL a NOTIFY
    // would still wake it if a delivery were left for a claim; SQLite has no such path, so
    // there this fails outright without the hand-off.)
    const wake = t.server.ctx.onDeliveriesQueued;
    t.server.ctx.onDeliveriesQueued = () => {};
    try {
      const x = await run();
      expect((await move(x.id, 'running')).status).toBe(200);
      // Leased to this process's engine by the status change's own transaction.
      const [d] = (await t.api('GET', `/api/v1/runs/${x.id}/deliveries`)).body.items;
      const leased = (await t.api('GET', `/api/v1/deliveries/${d.id}`)).body;
      expect(leased.state === 'delivered' || leased.sending).toBe(true);
      await r.waitFor(1, 3000);
      const done = await eventually(async () => {
        const again = await t.api('GET', `/api/v1/deliveries/${d.id}`);
        return again.body.state === 'delivered' ? again.body : undefined;
      }, 3000);
      expect(done.attempts.map((a: any) => [a.number, a.outcome])).toEqual([[1, 'delivered']]);
      expect(JSON.parse(r.requests[0]!.body).event).toBe('test.started');
    } finally {
      t.server.ctx.onDeliveriesQueued = wake;
      await removeChannel(c.id);
      await r.close();
    }
  });

  it("writes a run's next delivery with its change and sends it once the one ahead is answered", async () => {
    const r = await slowReceiver(300);
    const c = await channel(r.url);
    // Neither woken nor polling: a claim could not send the finish within this test.
    const wake = t.server.ctx.onDeliveriesQueued;
    t.server.ctx.onDeliveriesQueued = () => {};
    try {
      const x = await run();
      expect((await move(x.id, 'running')).status).toBe(200);
      expect((await move(x.id, 'finished')).status).toBe(200);
      const items = (await t.api('GET', `/api/v1/runs/${x.id}/deliveries`)).body.items;
      const finish = items.find((d: any) => d.event_type === 'test.finished');
      // Taken by this process's engine with the change itself, while the start is still
      // waiting for its answer: not left for a claim to find.
      const taken = (await t.api('GET', `/api/v1/deliveries/${finish.id}`)).body;
      expect(taken).toMatchObject({ sending: true, attempts: [] });
      expect(r.arrivals.map((a) => a.event)).toEqual(['test.started']);
      await eventually(async () => (r.arrivals.length >= 2 ? true : undefined), 5000);
      expect(r.arrivals.map((a) => a.event)).toEqual(['test.started', 'test.finished']);
      // Sent only after the start was answered (300 ms after it arrived).
      expect(r.arrivals[1]!.at - r.arrivals[0]!.at).toBeGreaterThanOrEqual(290);
      for (const d of items) {
        const done = await eventually(async () => {
          const again = await t.api('GET', `/api/v1/deliveries/${d.id}`);
          return again.body.state === 'delivered' ? again.body : undefined;
        }, 3000);
        expect(done.attempts.map((a: any) => [a.number, a.outcome])).toEqual([[1, 'delivered']]);
      }
    } finally {
      t.server.ctx.onDeliveriesQueued = wake;
      await removeChannel(c.id);
      await r.close();
    }
  });

  it('keeps a busy channel to 4 requests at once and each run in order, however many changes arrive', async () => {
    const r = await slowReceiver(60);
    const c = await channel(r.url);
    try {
      const runs = await Promise.all(Array.from({ length: 15 }, () => run()));
      // All at once: far more than the channel's 4 slots and 4 places in line; the rest wait
      // for a claim, and each finish waits behind its run's start.
      await Promise.all(
        runs.map(async (x) => {
          await move(x.id, 'running');
          await move(x.id, 'finished');
        }),
      );
      await eventually(async () => (r.arrivals.length >= 30 ? true : undefined), 20_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(r.arrivals).toHaveLength(30);
      expect(r.mostOpen()).toBeLessThanOrEqual(4);
      for (const x of runs) {
        const mine = r.arrivals.filter((a) => a.run === x.id).map((a) => a.event);
        expect(mine).toEqual(['test.started', 'test.finished']);
      }
    } finally {
      await removeChannel(c.id);
      await r.close();
    }
  });

  it('sends what waited for a busy channel before what came later', async () => {
    // The receiver takes 4 requests per 40 ms; changes come faster, one after the other, so the
    // channel stays full and most deliveries wait in the database for a claim. Those waiting
    // must go out in their order: a place freed in the channel is not for a newer change.
    const r = await slowReceiver(40);
    const c = await channel(r.url);
    try {
      const runs = [];
      for (let i = 0; i < 40; i++) runs.push(await run());
      for (const x of runs) expect((await move(x.id, 'running')).status).toBe(200);
      await eventually(async () => (r.arrivals.length >= runs.length ? true : undefined), 20_000);
      const rank = new Map(runs.map((x, i) => [x.id as number, i]));
      // Four at a time may overtake each other on the wire, and a few more line up in memory.
      const displaced = r.arrivals.map((a, i) => Math.abs(i - rank.get(a.run)!));
      expect(Math.max(...displaced)).toBeLessThanOrEqual(8);
    } finally {
      await removeChannel(c.id);
      await r.close();
    }
  });
});

describe.each(DIALECTS)('a run whose delivery ahead is retried (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  beforeAll(async () => {
    // Retries after about 10 ms instead of 10 s.
    t = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_RETRY_SCALE: '0.001' },
    });
    ({ loadTestId } = await seedLoadTest(t));
  });
  afterAll(() => t.close());

  it('sends the next delivery after the retried one, as its first attempt', async () => {
    // The start's first attempt answers 500 after 200 ms, when the finish is already written
    // leased behind it: the finish must wait for the retry, and its unsent attempt go.
    const r = await slowReceiver(200, (n) => (n === 1 ? 500 : 200));
    const c = await addChannel(t, r.url);
    try {
      const x = await newRun(t, loadTestId);
      expect((await moveRun(t, x.id, 'running')).status).toBe(200);
      expect((await moveRun(t, x.id, 'finished')).status).toBe(200);
      await eventually(async () => (r.arrivals.length >= 3 ? true : undefined), 10_000);
      expect(r.arrivals.map((a) => a.event)).toEqual(['test.started', 'test.started', 'test.finished']);
      const items = (await t.api('GET', `/api/v1/runs/${x.id}/deliveries`)).body.items;
      const attempts = async (event: string) => {
        const d = items.find((i: any) => i.event_type === event);
        const done = await eventually(async () => {
          const again = await t.api('GET', `/api/v1/deliveries/${d.id}`);
          return again.body.state === 'delivered' ? again.body : undefined;
        }, 3000);
        return done.attempts.map((a: any) => [a.number, a.outcome]);
      };
      expect(await attempts('test.started')).toEqual([
        [1, 'retry'],
        [2, 'delivered'],
      ]);
      expect(await attempts('test.finished')).toEqual([[1, 'delivered']]);
    } finally {
      await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
      await r.close();
    }
  });
});
