import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';

// The documents' examples, verbatim (spec/k6-cloud-notifications.md).
const STARTED = `{"status":2,"status_text":"Running","user_id":1,"name":"Load test","organization_id":1,"load_test_id":1,"load_test_run_id":1,"project_id":1,"event":"test.started"}`;
const FINISHED = `{"status":3,"status_text":"Finished","user_id":1,"name":"Load test","organization_id":1,"load_test_id":1,"load_test_run_id":1,"project_id":1,"event":"test.finished"}`;

describe.each(DIALECTS)('webhook delivery end to end (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  const receivers: Receiver[] = [];
  const receiver = async (...args: Parameters<typeof startReceiver>) => {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  };
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_RETRY_SCALE: '0.005' },
    });
    ({ loadTestId } = await seedLoadTest(t));
  });
  afterEach(async () => {
    // Each test's channels are removed so the next test's runs reach only its own.
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) {
      const deleted = await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
      // A channel left behind would receive the next test's events.
      expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);
    }
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => t.close());

  const channel = async (body: Record<string, unknown>) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', ...body },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const run = async (trigger = 'manual') =>
    (await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: { trigger } })).body;
  const move = (id: number, body: unknown) => t.api('POST', `/api/v1/runs/${id}/status`, { body });

  it('sends the documents exact payloads and headers for a run start and finish', async () => {
    const r = await receiver();
    const c = await channel({ url: r.url() });
    expect(c.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\*\*\*\*$/);
    const first = await run();
    await move(first.id, { status: 'running' });
    await move(first.id, { status: 'finished', result: 'passed' });
    const [started, finished] = await r.waitFor(2);
    // This store's first run, test, project, organization and user all have id 1: the documents' example.
    expect(first.id).toBe(1);
    expect(started!.body).toBe(STARTED);
    expect(finished!.body).toBe(FINISHED);
    for (const [req, event] of [
      [started!, 'test.started'],
      [finished!, 'test.finished'],
    ] as const) {
      expect(req.method).toBe('POST');
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.headers['user-agent']).toMatch(/^LoadImpactWebHook/);
      expect(req.headers['x-loadimpact-event']).toBe(event);
      expect(req.headers['x-loadimpact-id']).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(req.headers['webhook-id']).toMatch(/^msg_/);
    }
    expect(started!.headers['x-loadimpact-id']).not.toBe(finished!.headers['x-loadimpact-id']);
    expect(started!.headers['webhook-id']).not.toBe(finished!.headers['webhook-id']);
  });

  // A path part of 24+ characters shows its last four; a shorter one none (url-redaction.test.ts).
  it('encrypts the URL at rest and never shows it whole', async () => {
    const r = await receiver();
    const c = await channel({ url: r.url('/secret-path-0123456789-abcd') });
    const row = await t.server.ctx.db.kysely
      .selectFrom('notification_channels')
      .selectAll()
      .where('id', '=', c.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain('secret-path');
    const shown = await t.api('GET', `/api/v1/notification-channels/${c.id}`);
    expect(shown.body.url).toBe(`http://127.0.0.1:${r.port}/****abcd`);
    const renamed = await t.api('PATCH', `/api/v1/notification-channels/${c.id}`, {
      body: { name: 'renamed' },
    });
    expect(renamed.body.url).toBe(shown.body.url);
    const hook = await t.api('POST', `/api/v1/notification-channels/${c.id}/test`);
    expect(hook.body.outcome).toBe('delivered');
    expect(r.requests[0]!.url).toBe('/secret-path-0123456789-abcd');
  });

  it('Test Hook sends test.notification_channel through the engine and answers with the first attempt', async () => {
    const r = await receiver(() => ({ status: 204 }));
    const c = await channel({ url: r.url() });
    // As curl sends it with the README's headers: JSON content type, no body.
    const res = await t.api('POST', `/api/v1/notification-channels/${c.id}/test`, {
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('delivered');
    expect(res.body.attempt).toMatchObject({
      number: 1,
      response_status: 204,
      outcome: 'delivered',
      error: null,
    });
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]!.body).toBe('{"event":"test.notification_channel"}');
    expect(r.requests[0]!.headers['x-loadimpact-event']).toBe('test.notification_channel');

    const failing = await receiver(() => ({ status: 500, body: 'boom' }));
    const bad = await channel({ url: failing.url() });
    const failed = await t.api('POST', `/api/v1/notification-channels/${bad.id}/test`);
    expect(failed.body).toMatchObject({ outcome: 'failed', attempt: { response_status: 500 } });
    expect(failed.body.reason).toMatch(/500/);
  });

  it('retries a receiver that fails twice and records all three attempts', async () => {
    const r = await receiver((n) => (n <= 2 ? { status: 503, body: 'busy' } : { status: 200, body: 'ok' }));
    const c = await channel({ url: r.url(), events: { 'test.finished': { enabled: false } } });
    const x = await run();
    await move(x.id, { status: 'running' });
    const received = await r.waitFor(3, 15_000);
    expect(new Set(received.map((q) => q.headers['webhook-id'])).size).toBe(1);
    expect(new Set(received.map((q) => q.headers['x-loadimpact-id'])).size).toBe(3);
    const list = await eventually(async () => {
      const l = await t.api('GET', `/api/v1/notification-channels/${c.id}/deliveries`);
      return l.body.items[0]?.state === 'delivered' ? l.body : undefined;
    });
    expect(list.items).toHaveLength(1);
    const detail = await t.api('GET', `/api/v1/deliveries/${list.items[0].id}`);
    expect(detail.body).toMatchObject({ state: 'delivered', event_type: 'test.started', run_id: x.id });
    expect(detail.body.attempts).toHaveLength(3);
    expect(detail.body.attempts.map((a: any) => [a.number, a.response_status, a.outcome])).toEqual([
      [1, 503, 'retry'],
      [2, 503, 'retry'],
      [3, 200, 'delivered'],
    ]);
    expect(detail.body.attempts[0].response_body).toBe('busy');
    expect(JSON.parse(detail.body.attempts[2].request_body)).toMatchObject({
      event: 'test.started',
      load_test_run_id: x.id,
    });
    expect(detail.body.attempts[2].request_headers['X-LoadImpact-Event']).toBe('test.started');
  });

  it('keeps a run in order per channel: test.finished waits until test.started is delivered', async () => {
    const r = await receiver((n) => (n === 1 ? { status: 500 } : { status: 200 }));
    await channel({ url: r.url() });
    const x = await run();
    await move(x.id, { status: 'running' });
    await move(x.id, { status: 'finished' });
    const received = await r.waitFor(3, 15_000);
    expect(received.map((q) => JSON.parse(q.body).event)).toEqual([
      'test.started',
      'test.started',
      'test.finished',
    ]);
  });

  it("lists a run's deliveries to every channel, redeliveries included, and no other run's", async () => {
    const [ra, rb] = [await receiver(), await receiver()];
    const [a, b] = [await channel({ url: ra.url() }), await channel({ url: rb.url() })];
    const other = await run();
    await move(other.id, { status: 'running' });
    const x = await run();
    await move(x.id, { status: 'running' });
    await move(x.id, { status: 'finished' });
    await ra.waitFor(3);
    await rb.waitFor(3);
    const mine = async () => (await t.api('GET', `/api/v1/runs/${x.id}/deliveries`)).body.items;
    const first = await eventually(async () => {
      const items = await mine();
      return items.length === 4 && items.every((d: any) => d.state === 'delivered') ? items : undefined;
    });
    expect(first.map((d: any) => [d.channel_id, d.event_type])).toEqual([
      [a.id, 'test.started'],
      [b.id, 'test.started'],
      [a.id, 'test.finished'],
      [b.id, 'test.finished'],
    ]);
    const again = await t.api('POST', `/api/v1/deliveries/${first[0].id}/redeliver`);
    expect(again.status).toBe(202);
    const items = await mine();
    expect(items).toHaveLength(5);
    expect(items[4]).toMatchObject({
      redelivery_of: first[0].id,
      channel_id: a.id,
      event_type: 'test.started',
    });
  });

  it('applies filters: triggers, projects, statuses and results', async () => {
    const r = await receiver();
    await channel({
      url: r.url(),
      events: { 'test.started': { triggers: ['scheduled'] }, 'test.finished': { results: ['failed'] } },
    });
    const manual = await run('manual');
    await move(manual.id, { status: 'running' });
    await move(manual.id, { status: 'finished', result: 'passed' });
    const scheduled = await run('scheduled');
    await move(scheduled.id, { status: 'running' });
    await move(scheduled.id, { status: 'finished', result: 'failed' });
    const received = await r.waitFor(2);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.requests).toHaveLength(2);
    expect(received.map((q) => [JSON.parse(q.body).event, JSON.parse(q.body).load_test_run_id])).toEqual([
      ['test.started', scheduled.id],
      ['test.finished', scheduled.id],
    ]);
  });

  it('uses the loadimpact-v3 numbering when the channel asks for it', async () => {
    const r = await receiver();
    await channel({
      url: r.url(),
      status_scheme: 'loadimpact-v3',
      events: { 'test.started': { enabled: false } },
    });
    const x = await run();
    await move(x.id, { status: 'finished', result: 'failed' });
    const [req] = await r.waitFor(1);
    expect(JSON.parse(req!.body)).toMatchObject({
      status: 12,
      status_text: 'Failed threshold',
      event: 'test.finished',
    });
  });

  it('redelivers with the same webhook-id and a fresh X-LoadImpact-ID', async () => {
    const r = await receiver();
    const c = await channel({ url: r.url() });
    const hook = await t.api('POST', `/api/v1/notification-channels/${c.id}/test`);
    const again = await t.api('POST', `/api/v1/deliveries/${hook.body.delivery.id}/redeliver`);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({
      redelivery_of: hook.body.delivery.id,
      webhook_id: hook.body.delivery.webhook_id,
    });
    const [a, b] = await r.waitFor(2);
    expect(b!.headers['webhook-id']).toBe(a!.headers['webhook-id']);
    expect(b!.headers['x-loadimpact-id']).not.toBe(a!.headers['x-loadimpact-id']);
  });

  it('counts permanent failures in a row only: a delivery between them starts the count again', async () => {
    // 410, 410, then delivered, then 410s: the success resets the count, so the channel is
    // switched off only by the third failure after it.
    const answers = [410, 410, 204, 410, 410, 410];
    const r = await receiver((n) => ({ status: answers[n - 1] ?? 410, body: '' }));
    const c = await channel({ url: r.url() });
    const enabled = async () => (await t.api('GET', `/api/v1/notification-channels/${c.id}`)).body.enabled;
    for (let i = 1; i <= answers.length; i++) {
      const x = await run();
      await move(x.id, { status: 'finished' });
      await r.waitFor(i);
      // Recorded before the next run: each outcome counts in order.
      await eventually(async () => {
        const l = await t.api('GET', `/api/v1/notification-channels/${c.id}/deliveries`);
        return l.body.items.length === i && l.body.items.every((d: any) => d.state !== 'pending')
          ? true
          : undefined;
      });
      if (i < answers.length) expect(await enabled(), `after answer ${i}`).toBe(true);
    }
    expect(await enabled()).toBe(false);
  });

  it('gives up on a permanent answer, and disables a channel that keeps failing permanently', async () => {
    const r = await receiver(() => ({ status: 410, body: 'gone' }));
    const c = await channel({ url: r.url() });
    for (let i = 0; i < 3; i++) {
      const x = await run();
      await move(x.id, { status: 'finished' });
    }
    const disabled = await eventually(async () => {
      const got = await t.api('GET', `/api/v1/notification-channels/${c.id}`);
      return got.body.enabled === false ? got.body : undefined;
    });
    expect(disabled.disabled_reason).toMatch(/3 deliveries failed in a row.*410/);
    const deliveries = await t.api('GET', `/api/v1/notification-channels/${c.id}/deliveries`);
    expect(deliveries.body.items.every((d: any) => d.state === 'failed' && d.attempts === 1)).toBe(true);
    expect(r.requests).toHaveLength(3);
    const x = await run();
    await move(x.id, { status: 'finished' });
    await new Promise((res) => setTimeout(res, 200));
    expect(r.requests).toHaveLength(3);
    const enabled = await t.api('PATCH', `/api/v1/notification-channels/${c.id}`, {
      body: { enabled: true },
    });
    expect(enabled.body).toMatchObject({ enabled: true, disabled_reason: null });
  });
});
