import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer, runCalls } from '../helpers/server.js';
import { eventually, startReceiver, type Answer, type Receiver } from '../helpers/receiver.js';

const PUBLIC_URL = 'https://loadnotify.example.com/base';
const KEY = 'e93facc04764012d7bfb002500d5d1a6';

/** How PagerDuty answers an accepted event. */
const accepted = (dedupKey = 'k'): Answer => ({
  status: 202,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: dedupKey }),
});

describe.each(DIALECTS)('PagerDuty channels end to end (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  const receivers: Receiver[] = [];
  const receiver = async (answer: (n: number) => Answer = () => accepted()) => {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  };
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_RETRY_SCALE: '0.01', PUBLIC_URL },
    });
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' }));
  });
  afterEach(async () => {
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => t.close());

  const channels = `/api/v1/organizations/${0}/notification-channels`;
  const create = (body: Record<string, unknown>) =>
    t.api('POST', channels.replace('/0/', `/${t.organizationId}/`), {
      body: { type: 'pagerduty', name: 'On call', ...body },
    });
  const channel = async (url: string, config: Record<string, unknown> = {}) => {
    const res = await create({ url, config: { routing_key: KEY, ...config } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const { run, move, testHook, settled } = runCalls(
    () => t,
    () => loadTestId,
  );
  const list = async () =>
    (await t.api('GET', channels.replace('/0/', `/${t.organizationId}/`))).body.items as any[];

  it('triggers on a failed run and resolves with the same key when a later run passes; no starts', async () => {
    const r = await receiver();
    const c = await channel(r.url('/v2/enqueue'));
    expect(c.secrets_set).toEqual(['routing_key']);
    expect(c.config).toEqual({ severity: 'error' });
    expect(c.events['test.started'].enabled).toBe(false);

    const failed = await run();
    await move(failed.id, { status: 'running' });
    await move(failed.id, { status: 'finished', result: 'failed' });
    const passed = await run();
    await move(passed.id, { status: 'running' });
    await move(passed.id, { status: 'finished', result: 'passed' });
    const [trigger, resolve] = (await r.waitFor(2)).map((q) => ({ q, body: JSON.parse(q.body) }));

    expect(trigger!.q.url).toBe('/v2/enqueue');
    expect(trigger!.q.headers['content-type']).toBe('application/json');
    const key = `loadnotify-${t.organizationId}-${loadTestId}`;
    expect(trigger!.body).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: key,
      client: 'loadnotify',
      client_url: `${PUBLIC_URL}/runs/${failed.id}`,
      links: [{ href: `${PUBLIC_URL}/runs/${failed.id}` }],
      payload: { severity: 'error', source: 'Shop / Checkout', class: 'load test' },
    });
    expect(trigger!.body.payload.summary).toContain(`run #${failed.id} failed its thresholds`);
    expect(trigger!.body.payload.custom_details).toMatchObject({ run_id: failed.id, result: 'failed' });
    expect(Date.parse(trigger!.body.payload.timestamp)).not.toBeNaN();
    expect(resolve!.body).toMatchObject({ routing_key: KEY, event_action: 'resolve', dedup_key: key });
    // Starts reached nobody.
    await new Promise((res) => setTimeout(res, 200));
    expect(r.requests).toHaveLength(2);

    const deliveries = await eventually(async () => {
      const l = await t.api('GET', `/api/v1/notification-channels/${c.id}/deliveries`);
      return l.body.items.length === 2 && l.body.items.every((d: any) => d.state === 'delivered')
        ? l.body.items
        : undefined;
    });
    const details = await Promise.all(deliveries.map((d: any) => t.api('GET', `/api/v1/deliveries/${d.id}`)));
    expect(details.map((d) => d.body.attempts[0].response_status)).toEqual([202, 202]);
    // The body as logged keeps its shape, with the key hidden.
    expect(JSON.parse(details[0]!.body.attempts[0].request_body).routing_key).toBe('****');
    const shown = JSON.stringify([
      c,
      deliveries,
      details.map((d) => d.body),
      await list(),
      (await t.api('GET', `/api/v1/notification-channels/${c.id}`)).body,
    ]);
    expect(shown).not.toContain(KEY);
  });

  it('sends the Test Hook as an info trigger of its own', async () => {
    const r = await receiver();
    const c = await channel(r.url('/v2/enqueue'), { severity: 'critical' });
    const hook = await testHook(c.id);
    expect(hook.body.outcome).toBe('delivered');
    const [q] = await r.waitFor(1);
    expect(JSON.parse(q!.body)).toMatchObject({
      event_action: 'trigger',
      dedup_key: `loadnotify-${t.organizationId}-channel-${c.id}-test`,
      payload: { severity: 'info' },
    });
    expect(JSON.stringify(hook.body)).not.toContain(KEY);
  });

  it('never retries a 400, and shows PagerDuty’s errors as the reason', async () => {
    const r = await receiver(() => ({
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: ["'payload.summary' is missing or blank"],
      }),
    }));
    const c = await channel(r.url('/v2/enqueue'));
    const hook = await testHook(c.id);
    expect(hook.body).toMatchObject({
      outcome: 'failed',
      attempt: { response_status: 400, outcome: 'permanent' },
    });
    const d = await settled(hook.body.delivery.id);
    expect(d.state).toBe('failed');
    expect(d.last_error).toContain("Event object is invalid: 'payload.summary' is missing or blank");
    expect(d.attempts).toHaveLength(1);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.requests).toHaveLength(1);
  });

  it('retries a 429 and then delivers', async () => {
    const r = await receiver((n) =>
      n === 1
        ? { status: 429, headers: { 'retry-after': '1' }, body: '{"status":"throttle event"}' }
        : accepted(),
    );
    const c = await channel(r.url('/v2/enqueue'));
    const hook = await testHook(c.id);
    expect(hook.body).toMatchObject({
      outcome: 'failed',
      attempt: { response_status: 429, outcome: 'retry' },
    });
    const d = await settled(hook.body.delivery.id);
    expect(d.state).toBe('delivered');
    expect(d.attempts.map((a: any) => [a.response_status, a.outcome])).toEqual([
      [429, 'retry'],
      [202, 'delivered'],
    ]);
  });

  it('uses PagerDuty’s own endpoint when no URL is given', async () => {
    const res = await create({ config: { routing_key: KEY } });
    expect(res.status).toBe(201);
    expect(res.body.url).toMatch(/^https:\/\/events\.pagerduty\.com\/v2\/\*\*\*\*/);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a short routing key', { config: { routing_key: 'abc' } }, 'config.routing_key'],
    ['no routing key', { config: {} }, 'config.routing_key'],
    ['an unknown severity', { config: { routing_key: KEY, severity: 'fatal' } }, 'config.severity'],
    [
      'starts switched on',
      { config: { routing_key: KEY }, events: { 'test.started': { enabled: true } } },
      'events.test.started.enabled',
    ],
  ])('refuses %s with 400 naming the field, writing nothing', async (_what, body, field) => {
    const res = await create(body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
    expect(JSON.stringify(res.body)).not.toContain(KEY);
    expect(await list()).toHaveLength(0);
  });

  it('refuses switching starts on later, and keeps the channel as it was', async () => {
    const c = await channel('http://127.0.0.1:9/v2/enqueue');
    const res = await t.api('PATCH', `/api/v1/notification-channels/${c.id}`, {
      body: { name: 'Changed', events: { 'test.started': { enabled: true } } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('events.test.started.enabled');
    const after = (await t.api('GET', `/api/v1/notification-channels/${c.id}`)).body;
    expect(after.name).toBe('On call');
    expect(after.events['test.started'].enabled).toBe(false);
  });
});
