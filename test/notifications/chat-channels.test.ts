import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer, runCalls } from '../helpers/server.js';
import { eventually, startReceiver, type Answer, type Receiver } from '../helpers/receiver.js';

const PUBLIC_URL = 'https://loadnotify.example.com/base';
const RETRY_SCALE = 0.01;
const NAME = '@everyone <@123> **Checkout** & co';

type ChatType = 'msteams' | 'discord' | 'googlechat' | 'mattermost';

describe.each(DIALECTS)('Teams, Discord, Google Chat and Mattermost channels end to end (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
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
    ({ loadTestId } = await seedLoadTest(t, { project: 'Web', loadTest: NAME }));
  });
  afterEach(async () => {
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => t.close());

  const channel = async (type: ChatType, url: string) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type, name: type, url },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const { run, move, testHook, settled } = runCalls(
    () => t,
    () => loadTestId,
  );
  /** A run that starts and then fails its thresholds; answers the bodies of both notifications. */
  const startAndFail = async (r: Receiver) => {
    const x = await run();
    await move(x.id, { status: 'running' });
    await move(x.id, { status: 'finished', result: 'failed' });
    const received = await r.waitFor(2);
    for (const q of received) {
      expect(q.method).toBe('POST');
      expect(q.headers['content-type']).toBe('application/json');
    }
    return { runId: x.id as number, received, bodies: received.map((q) => JSON.parse(q.body)) };
  };
  const allDelivered = (channelId: number, n: number) =>
    eventually(async () => {
      const l = await t.api('GET', `/api/v1/notification-channels/${channelId}/deliveries`);
      return l.body.items.length === n && l.body.items.every((d: any) => d.state === 'delivered')
        ? l.body.items
        : undefined;
    });

  it('Teams: a Workflows URL gets an Adaptive Card per event, and 202 delivers', async () => {
    const r = await receiver(() => ({ status: 202 }));
    const path = '/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3t';
    const c = await channel('msteams', r.url(path));
    const { runId, received, bodies } = await startAndFail(r);
    expect(received[0]!.url).toBe(path);
    for (const body of bodies) {
      expect(body.type).toBe('message');
      expect(body.attachments).toHaveLength(1);
      const [a] = body.attachments;
      expect(a.contentType).toBe('application/vnd.microsoft.card.adaptive');
      expect(a.contentUrl).toBeNull();
      expect(a.content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
      expect(a.content.body[0]).toMatchObject({ type: 'TextBlock' });
      expect(a.content.body[0].text).toContain(NAME);
      const facts = a.content.body.find((b: any) => b.type === 'FactSet').facts;
      expect(facts).toContainEqual({ title: 'Project', value: 'Web' });
      expect(a.content.actions).toEqual([
        { type: 'Action.OpenUrl', title: `View run #${runId}`, url: `${PUBLIC_URL}/runs/${runId}` },
      ]);
    }
    expect(bodies[0].attachments[0].content.body[0].color).toBe('Default');
    expect(bodies[1].attachments[0].content.body[0].color).toBe('Attention');
    const list = await allDelivered(c.id, 2);
    expect(list.map((d: any) => d.attempts)).toEqual([1, 1]);
    // The signature in the workflow URL is the secret: not shown by the API.
    const detail = await t.api('GET', `/api/v1/deliveries/${list[0].id}`);
    expect(JSON.stringify([c, detail.body])).not.toContain('s3cr3t');
  });

  it('Discord: embeds coloured by outcome, escaped, pinging nobody; 204 delivers', async () => {
    const r = await receiver(() => ({ status: 204 }));
    const c = await channel('discord', r.url('/api/webhooks/123456789012345678/tok-en'));
    const { runId, bodies } = await startAndFail(r);
    for (const body of bodies) {
      expect(body.allowed_mentions).toEqual({ parse: [] });
      expect(body.embeds).toHaveLength(1);
      const [e] = body.embeds;
      expect(Number.isInteger(e.color)).toBe(true);
      expect(e.url).toBe(`${PUBLIC_URL}/runs/${runId}`);
      expect(e.title.length).toBeLessThanOrEqual(256);
      expect(e.title).toContain('@\u200beveryone \\<@123\\> \\*\\*Checkout\\*\\* & co');
      expect(JSON.stringify(body)).not.toContain('@everyone');
      expect(e.fields).toContainEqual({ name: 'Project', value: 'Web', inline: true });
    }
    expect(bodies[1].embeds[0].color).toBe(0xe01e5a);
    expect(bodies[0].embeds[0].color).not.toBe(bodies[1].embeds[0].color);
    expect((await allDelivered(c.id, 2)).map((d: any) => d.attempts)).toEqual([1, 1]);
  });

  // The engine never retries sooner than 1 s, nor sooner than its own backoff (5-10 s after
  // the first attempt), both scaled here by RETRY_SCALE; a retry_after above 10 s is the
  // only kind whose wait shows that Discord's own figure was read.
  it.each([
    ['body and header', 30.5, { 'retry-after': '31' }],
    ['body alone', 45.25, {}],
  ])(
    'Discord: 429 with retry_after (%s) waits at least that long, then 204 delivers',
    async (_, retryAfter, headers: Record<string, string>) => {
      const r = await receiver((n) =>
        n === 1
          ? {
              status: 429,
              headers: { 'content-type': 'application/json', ...headers },
              body: JSON.stringify({
                message: 'You are being rate limited.',
                retry_after: retryAfter,
                global: false,
              }),
            }
          : { status: 204 },
      );
      const c = await channel('discord', r.url('/api/webhooks/1/t'));
      const hook = await testHook(c.id);
      expect(hook.body).toMatchObject({
        outcome: 'failed',
        attempt: { number: 1, response_status: 429, outcome: 'retry' },
      });
      expect(hook.body.reason).toContain('You are being rate limited.');
      const d = await settled(hook.body.delivery.id);
      expect(d.state).toBe('delivered');
      expect(d.attempts.map((a: any) => [a.number, a.response_status, a.outcome])).toEqual([
        [1, 429, 'retry'],
        [2, 204, 'delivered'],
      ]);
      const wanted = retryAfter * 1000 * RETRY_SCALE;
      const [first, second] = d.attempts;
      // Recorded times have millisecond precision; allow that rounding.
      expect(
        Date.parse(second.started_at) - (Date.parse(first.started_at) + first.duration_ms),
      ).toBeGreaterThanOrEqual(wanted - 2);
      expect(r.requests[1]!.at - r.requests[0]!.at).toBeGreaterThanOrEqual(wanted - 2);
    },
  );

  it('Google Chat: text plus a cardsV2 card within 32,000 bytes; 200 JSON delivers', async () => {
    const r = await receiver(() => ({
      status: 200,
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: JSON.stringify({ name: 'spaces/AAAA/messages/x.y', text: 'stored' }),
    }));
    const path = '/v1/spaces/AAAA/messages?key=k&token=t0k3n';
    const c = await channel('googlechat', r.url(path));
    const { runId, received, bodies } = await startAndFail(r);
    expect(received[0]!.url).toBe(path);
    for (const [i, body] of bodies.entries()) {
      expect(Buffer.byteLength(received[i]!.body)).toBeLessThanOrEqual(32_000);
      expect(typeof body.text).toBe('string');
      expect(body.text).not.toContain('<@123>');
      expect(body.cardsV2).toHaveLength(1);
      const { card } = body.cardsV2[0];
      expect(card.header.title).toContain(NAME);
      const widgets = card.sections[0].widgets;
      expect(widgets).toContainEqual({ decoratedText: { topLabel: 'Project', text: 'Web', wrapText: true } });
      expect(widgets).toContainEqual({
        decoratedText: {
          topLabel: 'Test',
          text: '@everyone &lt;@123&gt; **Checkout** &amp; co',
          wrapText: true,
        },
      });
      expect(widgets.at(-1).buttonList.buttons[0].onClick.openLink.url).toBe(`${PUBLIC_URL}/runs/${runId}`);
    }
    expect((await allDelivered(c.id, 2)).map((d: any) => d.attempts)).toEqual([1, 1]);
  });

  it("Mattermost: Slack's body with its own escaping at /hooks/{key}; 200 ok delivers", async () => {
    const r = await receiver(() => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' }));
    const c = await channel('mattermost', r.url('/hooks/xxx-generatedkey-xxx'));
    const { runId, received, bodies } = await startAndFail(r);
    expect(received[0]!.url).toBe('/hooks/xxx-generatedkey-xxx');
    for (const body of bodies) {
      expect(body.text).toContain(`<${PUBLIC_URL}/runs/${runId}|`);
      expect(body.text.length).toBeLessThanOrEqual(16_383);
      expect(body.attachments).toHaveLength(1);
      expect(body.attachments[0].title).toContain('@\u200beveryone &lt;@\u200b123&gt; **Checkout** &amp; co');
      expect(JSON.stringify(body)).not.toContain('@everyone');
    }
    expect(bodies[1].attachments[0].color).toBe('danger');
    expect((await allDelivered(c.id, 2)).map((d: any) => d.attempts)).toEqual([1, 1]);
  });

  it.each([
    [
      'msteams',
      '/workflows/gone/triggers/manual/paths/invoke',
      404,
      '{"error":{"code":"WorkflowNotFound","message":"The workflow \'gone\' could not be found."}}',
      "WorkflowNotFound: The workflow 'gone' could not be found.",
    ],
    ['discord', '/api/webhooks/1/t', 404, '{"message": "Unknown Webhook", "code": 10015}', 'Unknown Webhook'],
    [
      'googlechat',
      '/v1/spaces/AAAA/messages',
      403,
      '{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}',
      'PERMISSION_DENIED: The caller does not have permission',
    ],
    [
      'mattermost',
      '/hooks/deleted',
      400,
      '{"id":"web.incoming_webhook.invalid.app_error","message":"Invalid webhook.","status_code":400}',
      'web.incoming_webhook.invalid.app_error: Invalid webhook.',
    ],
  ] as const)(
    '%s: a permanent answer (%s, HTTP %i) stops after one attempt, the reason in the delivery',
    async (type, path, status, body, reason) => {
      const r = await receiver(() => ({ status, headers: { 'content-type': 'application/json' }, body }));
      const c = await channel(type, r.url(path));
      const hook = await testHook(c.id);
      expect(hook.status).toBe(200);
      expect(hook.body).toMatchObject({
        outcome: 'failed',
        attempt: { number: 1, response_status: status, outcome: 'permanent' },
      });
      const d = await settled(hook.body.delivery.id);
      expect(d.state).toBe('failed');
      expect(d.last_error).toBe(`HTTP ${status}: ${reason}`);
      expect(d.attempts).toHaveLength(1);
      expect(d.attempts[0].response_body).toBe(body);
      // Nothing is retried later.
      await new Promise((res) => setTimeout(res, 300));
      expect(r.requests).toHaveLength(1);
    },
  );

  it('Google Chat: 429 RESOURCE_EXHAUSTED is retried, then 200 delivers', async () => {
    const r = await receiver((n) =>
      n === 1
        ? {
            status: 429,
            headers: { 'content-type': 'application/json' },
            body: '{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}',
          }
        : { status: 200, body: '{"name":"spaces/AAAA/messages/z"}' },
    );
    const c = await channel('googlechat', r.url('/v1/spaces/AAAA/messages'));
    const hook = await testHook(c.id);
    expect(hook.body.reason).toContain('RESOURCE_EXHAUSTED');
    const d = await settled(hook.body.delivery.id);
    expect(d.state).toBe('delivered');
    expect(d.attempts.map((a: any) => [a.response_status, a.outcome])).toEqual([
      [429, 'retry'],
      [200, 'delivered'],
    ]);
  });
});
