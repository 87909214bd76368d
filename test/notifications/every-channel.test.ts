import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_TYPES } from '../../src/channels/registry.js';
import { channelBody } from '../helpers/channel-samples.js';
import { DIALECTS } from '../helpers/db.js';
import { eventually, startReceiver, type Answer, type Receiver } from '../helpers/receiver.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.js';

/** Each HTTP service's own success answer. */
const ANSWERS: Record<string, Answer> = {
  webhook: { status: 200 },
  slack: { status: 200, body: 'ok' },
  hipchat: { status: 204 },
  msteams: { status: 202 },
  discord: { status: 204 },
  googlechat: {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: '{"name":"spaces/A/messages/B"}',
  },
  mattermost: { status: 200, body: 'ok' },
  pagerduty: {
    status: 202,
    headers: { 'content-type': 'application/json' },
    body: '{"status":"success","message":"Event processed","dedup_key":"k"}',
  },
  grafana: {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: '{"message":"Annotation added","id":1}',
  },
  github: {
    status: 201,
    headers: { 'content-type': 'application/json' },
    body: '{"id":1,"state":"failure"}',
  },
  gitlab: {
    status: 201,
    headers: { 'content-type': 'application/json' },
    body: '{"id":1,"status":"failed"}',
  },
};

const SHA = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3';
/** The run comes from CI: the types that put a status on its commit (GitHub, GitLab) need one. */
const CONTEXT = { vcs: { sha: SHA, repository: 'https://git.example.com/acme/shop' } };
/** Where each type's request lands under its receiver's `/<type>/hook`, when not the URL itself. */
const PATHS: Record<string, string> = {
  grafana: '/api/annotations',
  github: `/repos/acme/shop/statuses/${SHA}`,
  gitlab: `/api/v4/projects/acme%2Fshop/statuses/${SHA}`,
};

/**
 * The "show": one run's finish reaches every kind of channel at once, each at a real
 * local receiver answering as its service does, and e-mail at a real SMTP server.
 */
describe.each(DIALECTS)("one run's finish reaches every channel type (%s)", (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  const receivers = new Map<string, Receiver>();
  let smtp: SmtpPeer;

  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout <b>&</b>' }));
    smtp = await startSmtpPeer();
    for (const { type } of CHANNEL_TYPES) {
      if (type === 'email') continue;
      const answer = ANSWERS[type];
      if (!answer) throw new Error(`add the ${type} service's answer to ANSWERS`);
      receivers.set(type, await startReceiver(() => answer));
    }
  });
  afterAll(async () => {
    await Promise.all([...receivers.values()].map((r) => r.close()));
    await smtp?.close();
    await t?.close();
  });

  it('delivers the failed run to all of them, each in its own format, each attempt logged', async () => {
    const ids = new Map<string, number>();
    for (const { type } of CHANNEL_TYPES) {
      const url =
        type === 'email' ? `smtp://127.0.0.1:${smtp.port}` : receivers.get(type)!.url(`/${type}/hook`);
      const body = channelBody(type, url, {
        events: { 'test.started': { enabled: false }, 'test.finished': { enabled: true } },
      });
      const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body,
      });
      expect(res.status, `${type}: ${JSON.stringify(res.body)}`).toBe(201);
      ids.set(type, res.body.id);
    }
    expect(ids.size).toBeGreaterThanOrEqual(12);

    const run = (await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: { context: CONTEXT } }))
      .body;
    expect(
      (await t.api('POST', `/api/v1/runs/${run.id}/status`, { body: { status: 'running' } })).status,
    ).toBe(200);
    const finished = await t.api('POST', `/api/v1/runs/${run.id}/status`, {
      body: { status: 'finished', result: 'failed' },
    });
    expect(finished.status).toBe(200);

    // Exactly one request per HTTP channel, in its service's shape.
    const got = new Map<string, unknown>();
    for (const [type, r] of receivers) {
      const [req] = await r.waitFor(1);
      expect(req!.method).toBe('POST');
      expect(req!.url).toBe(`/${type}/hook${PATHS[type] ?? ''}`);
      got.set(type, JSON.parse(req!.body));
    }
    expect(got.get('webhook')).toMatchObject({ event: 'test.finished', load_test_run_id: run.id, status: 3 });
    expect(got.get('slack')).toMatchObject({ attachments: [{ color: 'danger' }] });
    expect(got.get('hipchat')).toMatchObject({ color: 'red', message_format: 'html' });
    expect(got.get('msteams')).toMatchObject({
      type: 'message',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive' }],
    });
    expect(got.get('discord')).toMatchObject({ allowed_mentions: { parse: [] }, embeds: [{}] });
    expect(got.get('googlechat')).toHaveProperty('cardsV2');
    expect(got.get('mattermost')).toMatchObject({ attachments: [{}] });
    expect(got.get('pagerduty')).toMatchObject({
      event_action: 'trigger',
      routing_key: 'R0UTINGKEY0123456789abcdefABCDEF',
      dedup_key: `loadnotify-${t.organizationId}-${loadTestId}`,
    });
    // Grafana: the run's whole region at once (the start was not sent to it), on its dashboard.
    expect(got.get('grafana')).toMatchObject({
      dashboardUID: 'cLV5GDCkz',
      panelId: 2,
      tags: expect.arrayContaining(['loadnotify', 'result:failed', 'env:staging']),
    });
    expect(receivers.get('grafana')!.requests[0]!.headers.authorization).toMatch(/^Bearer glsa_/);
    expect(got.get('github')).toMatchObject({ state: 'failure', context: 'loadnotify/Checkout <b>&</b>' });
    expect(got.get('gitlab')).toMatchObject({ state: 'failed', name: 'loadnotify/Checkout <b>&</b>' });
    // The test name is escaped in every format that would otherwise render it.
    for (const type of ['hipchat', 'grafana'])
      expect(JSON.stringify(got.get(type)), type).toContain('Checkout &lt;b&gt;&amp;&lt;/b&gt;');

    const [mail] = await smtp.waitFor(1);
    expect(mail!.envelope.to).toEqual(['ops@example.com']);
    expect(mail!.parsed.subject).toMatch(/^\[FAILED\] Checkout <b>&<\/b>/);
    expect(mail!.parsed.html).toContain('Checkout &lt;b&gt;&amp;&lt;/b&gt;');

    // And the delivery log says delivered for every channel, with one attempt each.
    for (const [type, id] of ids) {
      const items = await eventually(async () => {
        const l = await t.api('GET', `/api/v1/notification-channels/${id}/deliveries`);
        return l.body.items.length === 1 && l.body.items[0].state === 'delivered' ? l.body.items : undefined;
      });
      const detail = await t.api('GET', `/api/v1/deliveries/${items[0].id}`);
      expect(detail.body.attempts, type).toHaveLength(1);
      expect(detail.body.attempts[0].outcome, type).toBe('delivered');
    }
    // Nothing was sent twice.
    for (const r of receivers.values()) expect(r.requests).toHaveLength(1);
    expect(smtp.mails).toHaveLength(1);
  });
});
