import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer, runCalls } from '../helpers/server.js';
import { eventually, startReceiver, type Answer, type Receiver } from '../helpers/receiver.js';

const PUBLIC_URL = 'https://loadnotify.example.com/base';
const RETRY_SCALE = 0.01;

describe.each(DIALECTS)('Slack and HipChat channels end to end (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let projectId: number;
  const receivers: Receiver[] = [];
  const receiver = async (answer?: (n: number) => Answer) => {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  };
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: {
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        LOADNOTIFY_RETRY_SCALE: String(RETRY_SCALE),
        PUBLIC_URL,
      },
    });
    ({ loadTestId, projectId } = await seedLoadTest(t, { project: 'Web', loadTest: '<!channel> & co' }));
  });
  afterEach(async () => {
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => t.close());

  const channel = async (type: 'slack' | 'hipchat', url: string, extra: Record<string, unknown> = {}) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type, name: type, url, ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const { run, move, testHook, settled } = runCalls(
    () => t,
    () => loadTestId,
  );

  describe('Slack', () => {
    it('delivers on 200 ok in the incoming-webhook format, escaped, coloured and linked to the run', async () => {
      const r = await receiver(() => ({ status: 200, body: 'ok' }));
      const c = await channel('slack', r.url('/services/T000/B000/XXXX'));
      const passed = await run();
      await move(passed.id, { status: 'running' });
      await move(passed.id, { status: 'finished', result: 'passed' });
      const failed = await run();
      await move(failed.id, { status: 'finished', result: 'failed' });
      const received = await r.waitFor(3);
      const bodies = received.map((q) => JSON.parse(q.body));
      for (const [q, body] of received.map((q, i) => [q, bodies[i]] as const)) {
        expect(q.method).toBe('POST');
        expect(q.url).toBe('/services/T000/B000/XXXX');
        expect(q.headers['content-type']).toBe('application/json');
        expect(typeof body.text).toBe('string');
        expect(body.text.length).toBeGreaterThan(0);
        expect(body.attachments).toHaveLength(1);
        const a = body.attachments[0];
        expect(typeof a.fallback).toBe('string');
        // The test name as people typed it never reaches Slack raw: no @channel ping, no broken entity.
        expect(q.body).not.toContain('<!channel>');
        expect(q.body).not.toMatch(/& co/);
        expect(body.text).toContain('&lt;!channel&gt; &amp; co');
        expect(a.title).toContain('&lt;!channel&gt; &amp; co');
      }
      // In order within a run; the two runs' messages may arrive in either order.
      const about = (id: number) =>
        bodies.filter((b) => b.attachments[0].title_link === `${PUBLIC_URL}/runs/${id}`);
      const [started, finishedPassed] = about(passed.id);
      const [finishedFailed] = about(failed.id);
      // Link to the run on PUBLIC_URL, as Slack's <url|text> in the text and as the title link.
      expect(started.text).toContain(`<${PUBLIC_URL}/runs/${passed.id}|`);
      expect(started.attachments[0].title_link).toBe(`${PUBLIC_URL}/runs/${passed.id}`);
      expect(finishedPassed.attachments[0].title_link).toBe(`${PUBLIC_URL}/runs/${passed.id}`);
      expect(finishedFailed.text).toContain(`<${PUBLIC_URL}/runs/${failed.id}|`);
      // Colour by outcome: passed good, failed danger, a start neither.
      expect(finishedPassed.attachments[0].color).toBe('good');
      expect(finishedFailed.attachments[0].color).toBe('danger');
      expect(['good', 'danger']).not.toContain(started.attachments[0].color);
      expect(started.attachments[0].color).toMatch(/^(warning|#[0-9a-f]{6})$/i);
      // The project is named in the message.
      expect(JSON.stringify(finishedPassed.attachments[0])).toContain('Web');
      const list = await eventually(async () => {
        const l = await t.api('GET', `/api/v1/notification-channels/${c.id}/deliveries`);
        return l.body.items.length === 3 && l.body.items.every((d: any) => d.state === 'delivered')
          ? l.body.items
          : undefined;
      });
      expect(list.map((d: any) => d.attempts)).toEqual([1, 1, 1]);
      expect(projectId).toBeGreaterThan(0);
    });

    it.each([
      [404, 'channel_not_found'],
      [410, 'channel_is_archived'],
      [403, 'action_prohibited'],
      [403, 'invalid_token'],
    ])('gives up after one attempt on %i %s, with the body as the reason', async (status, body) => {
      const r = await receiver(() => ({ status, body, headers: { 'content-type': 'text/plain' } }));
      const c = await channel('slack', r.url());
      const hook = await testHook(c.id);
      expect(hook.status).toBe(200);
      expect(hook.body.outcome).toBe('failed');
      expect(hook.body.reason).toContain(body);
      expect(hook.body.attempt).toMatchObject({ number: 1, response_status: status, outcome: 'permanent' });
      const d = await settled(hook.body.delivery.id);
      expect(d.state).toBe('failed');
      expect(d.last_error).toContain(body);
      expect(d.attempts).toHaveLength(1);
      expect(d.attempts[0].response_body).toBe(body);
      // Nothing is retried later.
      await new Promise((res) => setTimeout(res, 300));
      expect(r.requests).toHaveLength(1);
    });

    it.each([
      [1, 1000],
      [60, 60_000],
    ])(
      'honours 429 Retry-After: %i s, then delivers on attempt 2 no earlier than Retry-After x scale',
      async (seconds, ms) => {
        const r = await receiver((n) =>
          n === 1
            ? { status: 429, headers: { 'retry-after': String(seconds) }, body: 'rate_limited' }
            : { status: 200, body: 'ok' },
        );
        const c = await channel('slack', r.url());
        const hook = await testHook(c.id);
        expect(hook.body.outcome).toBe('failed');
        expect(hook.body.attempt).toMatchObject({ number: 1, response_status: 429, outcome: 'retry' });
        const d = await settled(hook.body.delivery.id);
        expect(d.state).toBe('delivered');
        expect(d.attempts.map((a: any) => [a.number, a.response_status, a.outcome])).toEqual([
          [1, 429, 'retry'],
          [2, 200, 'delivered'],
        ]);
        const [first, second] = d.attempts;
        const firstEnded = Date.parse(first.started_at) + first.duration_ms;
        const gap = Date.parse(second.started_at) - firstEnded;
        // Recorded times have millisecond precision; allow that rounding.
        expect(gap).toBeGreaterThanOrEqual(ms * RETRY_SCALE - 2);
        expect(r.requests[1]!.at - r.requests[0]!.at).toBeGreaterThanOrEqual(ms * RETRY_SCALE - 2);
        expect(r.requests[0]!.headers['webhook-id'] ?? null).toBe(
          r.requests[1]!.headers['webhook-id'] ?? null,
        );
      },
    );

    it('retries 500 rollup_error and then delivers', async () => {
      const r = await receiver((n) =>
        n === 1 ? { status: 500, body: 'rollup_error' } : { status: 200, body: 'ok' },
      );
      const c = await channel('slack', r.url());
      const hook = await testHook(c.id);
      expect(hook.body).toMatchObject({
        outcome: 'failed',
        attempt: { response_status: 500, outcome: 'retry' },
      });
      expect(hook.body.reason).toContain('rollup_error');
      const d = await settled(hook.body.delivery.id);
      expect(d.state).toBe('delivered');
      expect(d.attempts.map((a: any) => [a.response_status, a.outcome])).toEqual([
        [500, 'retry'],
        [200, 'delivered'],
      ]);
      expect(r.requests).toHaveLength(2);
    });
  });

  describe('HipChat', () => {
    it('delivers on 204 with message, color, notify and message_format', async () => {
      const r = await receiver(() => ({ status: 204 }));
      const c = await channel('hipchat', r.url('/v2/room/42/notification?auth_token=r00mT0ken'));
      const x = await run();
      await move(x.id, { status: 'running' });
      await move(x.id, { status: 'finished', result: 'failed' });
      const [started, finished] = await r.waitFor(2);
      expect(started!.url).toBe('/v2/room/42/notification?auth_token=r00mT0ken');
      for (const q of [started!, finished!]) {
        expect(q.method).toBe('POST');
        expect(q.headers['content-type']).toBe('application/json');
        const body = JSON.parse(q.body);
        expect(typeof body.message).toBe('string');
        expect(body.message.length).toBeGreaterThan(0);
        expect(body.message.length).toBeLessThanOrEqual(10_000);
        expect(['yellow', 'green', 'red', 'purple', 'gray', 'random']).toContain(body.color);
        expect(typeof body.notify).toBe('boolean');
        expect(['html', 'text']).toContain(body.message_format);
        // HTML-escaped user text, and the link to the run.
        expect(body.message).not.toContain('<!channel>');
        expect(body.message).toContain('&lt;!channel&gt; &amp; co');
        expect(body.message).toContain(`${PUBLIC_URL}/runs/${x.id}`);
      }
      expect(JSON.parse(finished!.body)).toMatchObject({ color: 'red', notify: true });
      const list = await eventually(async () => {
        const l = await t.api('GET', `/api/v1/notification-channels/${c.id}/deliveries`);
        return l.body.items.length === 2 && l.body.items.every((d: any) => d.state === 'delivered')
          ? l.body.items
          : undefined;
      });
      expect(list).toHaveLength(2);
      // The room token in the query is part of the secret URL: not in the channel, not in the log.
      const detail = await t.api('GET', `/api/v1/deliveries/${list[0].id}`);
      const shown = JSON.stringify([
        c,
        detail.body,
        (await t.api('GET', `/api/v1/notification-channels/${c.id}`)).body,
      ]);
      expect(shown).not.toContain('auth_token=r00mT0ken');
      expect(shown).not.toContain('r00mT0ken');
    });

    it('gives up on 404 after one attempt', async () => {
      const body = '{"error":{"code":404,"message":"Room not found","type":"Not Found"}}';
      const r = await receiver(() => ({
        status: 404,
        body,
        headers: { 'content-type': 'application/json' },
      }));
      const c = await channel('hipchat', r.url('/v2/room/nope/notification'));
      const hook = await testHook(c.id);
      expect(hook.body).toMatchObject({
        outcome: 'failed',
        attempt: { response_status: 404, outcome: 'permanent' },
      });
      expect(hook.body.reason).toContain('Room not found');
      const d = await settled(hook.body.delivery.id);
      expect(d.state).toBe('failed');
      expect(d.attempts).toHaveLength(1);
      await new Promise((res) => setTimeout(res, 200));
      expect(r.requests).toHaveLength(1);
    });

    it('retries flood control (429) and then delivers', async () => {
      const r = await receiver((n) =>
        n === 1 ? { status: 429, headers: { 'retry-after': '2' }, body: 'flood' } : { status: 204 },
      );
      const c = await channel('hipchat', r.url('/v2/room/42/notification'));
      const hook = await testHook(c.id);
      expect(hook.body).toMatchObject({
        outcome: 'failed',
        attempt: { response_status: 429, outcome: 'retry' },
      });
      const d = await settled(hook.body.delivery.id);
      expect(d.state).toBe('delivered');
      expect(d.attempts.map((a: any) => [a.response_status, a.outcome])).toEqual([
        [429, 'retry'],
        [204, 'delivered'],
      ]);
    });
  });
});
