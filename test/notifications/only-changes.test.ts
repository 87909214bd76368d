import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { runCalls, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/** Issue 21, less noise: `only_changes` and `worse_by_percent` under test.finished. */
describe.each(DIALECTS)('quiet channel filters (%s)', (dialect) => {
  let t: TestServer;
  let slack: Receiver;
  let hook: Receiver;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    slack = await startReceiver(() => ({ status: 200, body: 'ok' }));
    hook = await startReceiver(() => ({ status: 204 }));
  });
  afterAll(async () => {
    await Promise.all([slack?.close(), hook?.close()]);
    await t?.close();
  });
  const channel = async (body: Record<string, unknown>) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const deliveries = async (channelId: number) =>
    (await t.api('GET', `/api/v1/notification-channels/${channelId}/deliveries?limit=100`)).body.items;

  it('only_changes: the first run, then "broke" and "recovered", quiet in between', async () => {
    const { loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' });
    const c = await channel({
      type: 'slack',
      name: 'changes',
      url: slack.url(),
      events: { 'test.started': { enabled: false }, 'test.finished': { only_changes: true } },
    });
    expect(c.events['test.finished'].only_changes).toBe(true);
    const { move } = runCalls(
      () => t,
      () => loadTestId,
    );
    const end = async (status: string, result?: string) => {
      const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
      await move(run.body.id, { status: 'running' });
      const done = await move(run.body.id, { status, ...(result ? { result } : {}) });
      expect(done.status, JSON.stringify(done.body)).toBe(200);
      return run.body.id as number;
    };
    const first = await end('finished', 'passed');
    await end('finished', 'passed');
    const broke = await end('finished', 'failed');
    await end('finished', 'failed');
    await end('aborted_by_user');
    const recovered = await end('finished', 'passed');
    await end('finished', 'passed');

    // Deliveries are written with the status change: the list is complete once the calls answered.
    expect((await deliveries(c.id)).map((d: { run_id: number }) => d.run_id).sort()).toEqual([
      first,
      broke,
      recovered,
    ]);
    const texts = (await slack.waitFor(3)).map((r) => r.body);
    const titled = (id: number) => texts.find((b) => b.includes(`run #${id} `))!;
    expect(titled(first)).toContain(`Checkout: run #${first} passed`);
    expect(titled(broke)).toContain(`Checkout: run #${broke} broke (failed its thresholds)`);
    expect(titled(recovered)).toContain(`Checkout: run #${recovered} recovered (passed)`);
    expect(slack.requests).toHaveLength(3);
  });

  it('worse_by_percent: only when a compared figure got worse by more than its limit', async () => {
    const { loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Search' });
    const c = await channel({
      type: 'webhook',
      name: 'worse',
      url: hook.url(),
      config: { payload_version: 'extended' },
      events: {
        'test.started': { enabled: false },
        'test.finished': { worse_by_percent: { p95_ms: 10, failure_rate: 50 } },
      },
    });
    const { move } = runCalls(
      () => t,
      () => loadTestId,
    );
    const end = async (p95: number, failureRate: number) => {
      const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
      await move(run.body.id, { status: 'running' });
      await move(run.body.id, {
        status: 'finished',
        result: 'passed',
        summary: { p95_ms: p95, failure_rate: failureRate },
      });
      return run.body.id as number;
    };
    await end(100, 0); // nothing to compare with
    await end(109, 0); // +9%
    const slower = await end(125, 0); // +14.7%
    await end(100, 0); // faster
    const failing = await end(100, 0.01); // from no failures: worse by more than any percent
    await end(100, 0.014); // +40%
    expect((await deliveries(c.id)).map((d: { run_id: number }) => d.run_id).sort()).toEqual([
      slower,
      failing,
    ]);
    const bodies = (await hook.waitFor(2)).map((r) => JSON.parse(r.body));
    expect(bodies.find((b) => b.load_test_run_id === slower).comparison.figures.p95_ms.delta_percent).toBe(
      14.7,
    );
  });

  it('refuses a bad worse_by_percent, naming it', async () => {
    const base = { type: 'webhook', name: 'bad', url: hook.url() };
    for (const worse of [{ p95: 10 }, { p95_ms: -1 }, {}, { p95_ms: '10' }]) {
      const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { ...base, events: { 'test.finished': { worse_by_percent: worse } } },
      });
      expect(res.status, JSON.stringify(worse)).toBe(400);
      expect(JSON.stringify(res.body.error), JSON.stringify(worse)).toContain('worse_by_percent');
    }
    const onlyChanges = await t.api(
      'POST',
      `/api/v1/organizations/${t.organizationId}/notification-channels`,
      {
        body: { ...base, events: { 'test.finished': { only_changes: 'yes' } } },
      },
    );
    expect(onlyChanges.status).toBe(400);
    expect(JSON.stringify(onlyChanges.body.error)).toContain('only_changes');
  });
});
