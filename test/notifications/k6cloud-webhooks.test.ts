/**
 * Issue 20's "done when": a team leaving k6 Cloud pastes its Jinja2 template into a webhook
 * with k6 Cloud's headers, filtered by k6 Cloud's event identifiers, and its receiver gets
 * what it got from k6 Cloud. Through the HTTP API, to a real receiver, on both databases.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { K6CLOUD_EVENT_TYPES } from '../../src/core/k6cloud-events.js';
import { DIALECTS } from '../helpers/db.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addMember, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

/** Written as k6 Cloud's documentation writes them: its examples, and a loop over errors. */
const K6CLOUD_TEMPLATE = `{
  "color": "{% if test.result == 1 %}red{% else %}green{% endif %}",
  "title": "{{ test.name }} {{ test.status_text }} ({{ test.result_text }})",
  "test": {"id": {{ test.id }}, "url": "{{ test.url }}", "load_test_url": "{{ test.load_test_url }}",
           "organization_id": {{ test.organization_id }}, "project_id": {{ test.project_id }},
           "load_test_id": {{ test.load_test_id }}, "was_scheduled": {{ test.was_scheduled }},
           "started": "{{ test.started }}", "ended": "{{ test.ended }}", "status": {{ test.status }}},
  "user": {"id": {{ user.id }}, "name": "{{ user.name }}", "avatar": "{{ user.avatar }}"},
  "event": {"id": "{{ event.id }}", "type": "{{ event.type }}", "text": "{{ event.text }}"},
  "errors": "{% for error in errors %}{{ error.detail }}{{ "," if not loop.last }}{% endfor %}",
  "codes": [{% for error in errors %}{{ error.code | tojson }}{{ "," if not loop.last }}{% endfor %}],
  "legacy": "{{ name }} {{ payload.event }} {{ event.name }}"
}`;

describe.each(DIALECTS)("k6 Cloud's Jinja2 webhooks (%s)", (dialect) => {
  let t: TestServer;
  let r: Receiver;
  let loadTestId: number;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' }));
  });
  afterEach(async () => {
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await r?.close();
  });
  afterAll(() => t.close());

  const create = async (body: Record<string, unknown>) => {
    r = await startReceiver(() => ({ status: 200 }));
    return t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'k6 cloud hook', url: r.url(), ...body },
    });
  };
  const runTo = async (final: Record<string, unknown>) => {
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    expect(
      (await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } })).status,
    ).toBe(200);
    const end = await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: final });
    expect(end.status).toBe(200);
    return end.body as { id: number; errors: unknown[] };
  };
  const deliveries = async (channelId: number) =>
    (await t.api('GET', `/api/v1/notification-channels/${channelId}/deliveries`)).body.items as unknown[];

  it('sends one request with the three X-k6cloud-* headers and the template made JSON for a failed run, and nothing for a passing one', async () => {
    const c = await create({
      event_types: ['test.finished.failed'],
      config: { template: K6CLOUD_TEMPLATE, template_engine: 'jinja2', header_style: 'k6cloud' },
    });
    expect(c.status).toBe(201);
    expect(c.body.event_types).toEqual(['test.finished.failed']);
    expect(c.body.events).toEqual({
      'test.started': { enabled: false, triggers: [] },
      'test.finished': { enabled: true, triggers: [], statuses: [], results: ['failed'] },
    });
    expect(c.body.config).toMatchObject({ template_engine: 'jinja2', header_style: 'k6cloud' });
    expect((await t.api('GET', `/api/v1/notification-channels/${c.body.id}`)).body).toMatchObject({
      event_types: ['test.finished.failed'],
      config: { template_engine: 'jinja2', header_style: 'k6cloud' },
    });

    // A passing run: no delivery is even recorded for this channel.
    await runTo({ status: 'finished', result: 'passed' });
    expect(await deliveries(c.body.id)).toEqual([]);

    const failed = await runTo({
      status: 'finished',
      result: 'failed',
      errors: [
        { code: 1000, detail: 'GET https://shop.example.com/cart: request timeout' },
        { detail: 'threshold http_req_duration p(95)<200 crossed' },
      ],
    });
    expect(failed.errors).toEqual([
      {
        code: 1000,
        created: expect.any(String),
        detail: 'GET https://shop.example.com/cart: request timeout',
      },
      { code: null, created: expect.any(String), detail: 'threshold http_req_duration p(95)<200 crossed' },
    ]);
    const [req] = await r.waitFor(1).catch(async (err) => {
      throw new Error(`${err}: ${JSON.stringify(await deliveries(c.body.id))}`);
    });
    expect(req!.headers['user-agent']).toBe('K6CloudWebHook');
    expect(req!.headers['x-k6cloud-event']).toBe('test.finished');
    expect(req!.headers['x-k6cloud-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(req!.headers['x-loadimpact-id']).toBeUndefined();
    expect(req!.headers['webhook-signature']).toMatch(/^v1,/);
    const base = t.server.ctx.config.publicUrl.replace(/\/+$/, '');
    const avatar = createHash('md5').update('owner@example.com').digest('hex');
    const body = JSON.parse(req!.body);
    expect(body).toEqual({
      color: 'red',
      title: 'Checkout Finished (Failed)',
      test: {
        id: failed.id,
        url: `${base}/runs/${failed.id}`,
        load_test_url: `${base}/load-tests/${loadTestId}`,
        organization_id: t.organizationId,
        project_id: expect.any(Number),
        load_test_id: loadTestId,
        was_scheduled: 0,
        started: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        ended: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        status: 3,
      },
      user: {
        id: expect.any(Number),
        name: 'owner@example.com',
        avatar: `https://www.gravatar.com/avatar/${avatar}`,
      },
      event: { id: req!.headers['webhook-id'], type: 'test.finished.failed', text: 'Test failed' },
      errors:
        'GET https://shop.example.com/cart: request timeout,threshold http_req_duration p(95)<200 crossed',
      codes: [1000, null],
      legacy: 'Checkout test.finished test.finished',
    });
    expect(await deliveries(c.body.id)).toHaveLength(1);
  });

  it('sends the LoadImpact headers by default, and a Liquid template sees the same context', async () => {
    const c = await create({
      config: {
        template:
          '{"e": "{{ event }}", "t": "{{ event.type }}", "x": "{{ event.text }}", "r": {{ test.result }}, "n": {{ errors | size }}{% if event == "test.finished" %}, "end": true{% endif %}}',
      },
      events: { 'test.started': { enabled: false } },
    });
    expect(c.status).toBe(201);
    expect(c.body.event_types).toBeNull();
    await runTo({ status: 'aborted_by_user' });
    const [req] = await r.waitFor(1);
    expect(req!.headers['user-agent']).toMatch(/^LoadImpactWebHook/);
    expect(req!.headers['x-loadimpact-event']).toBe('test.finished');
    expect(req!.headers['x-k6cloud-id']).toBeUndefined();
    expect(JSON.parse(req!.body)).toEqual({
      e: 'test.finished',
      t: '<any>',
      x: 'Unknown',
      r: 1,
      n: 0,
      end: true,
    });
  });

  it('names the identifier that fired first in the channel’s list, and hears each run once', async () => {
    const c = await create({
      event_types: ['test.started.manual', 'test.finished.aborted_user', 'test.finished.failed'],
      config: {
        template: '{"type": "{{ event.type }}"}',
        template_engine: 'jinja2',
        header_style: 'k6cloud',
      },
    });
    expect(c.status).toBe(201);
    await runTo({ status: 'aborted_by_user' });
    const got = await r.waitFor(2);
    expect(got.map((q) => [q.headers['x-k6cloud-event'], JSON.parse(q.body).type])).toEqual([
      ['test.started', 'test.started.manual'],
      ['test.finished', 'test.finished.aborted_user'],
    ]);
  });

  it('refuses unknown identifiers, both filter forms at once, and settings that do not fit, in words', async () => {
    const unknown = await create({ event_types: ['test.finished.failed', 'test.failed', 'test.done'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details[0].field).toBe('event_types');
    expect(unknown.body.error.message).toBe(
      `event_types: "test.failed", "test.done" are not event types; the event types are ${K6CLOUD_EVENT_TYPES.join(', ')}`,
    );
    const both = await create({
      event_types: ['test.finished.failed'],
      events: { 'test.started': { enabled: false } },
    });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toBe('event_types: give either events or event_types, not both');
    const style = await create({ config: { header_style: 'k6' } });
    expect(style.status).toBe(400);
    expect(style.body.error.details[0].field).toBe('config.header_style');
    expect(style.body.error.message).toMatch(/loadimpact.*k6cloud/);
    const engine = await create({ config: { template: '{}', template_engine: 'jinja' } });
    expect(engine.status).toBe(400);
    expect(engine.body.error.details[0].field).toBe('config.template_engine');
    const bad = await create({
      config: { template: '{\n  "a": "{{ test.name }}",\n  "b": {% if %}\n}', template_engine: 'jinja2' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('config.template: line 3: Unexpected token: CloseStatement');
    expect(bad.body.error.details[0].field).toBe('config.template');
    const nakedEngine = await create({ config: { template_engine: 'jinja2' } });
    expect(nakedEngine.status).toBe(400);
    expect(nakedEngine.body.error.details[0].field).toBe('config.template_engine');
  });

  it('switches between the two filter forms on PATCH', async () => {
    const c = await create({ event_types: ['test.finished.success'] });
    const back = await t.api('PATCH', `/api/v1/notification-channels/${c.body.id}`, {
      body: { events: { 'test.started': { enabled: true } } },
    });
    expect(back.status).toBe(200);
    expect(back.body.event_types).toBeNull();
    expect(back.body.events['test.started'].enabled).toBe(true);
    expect(back.body.events['test.finished']).toMatchObject({ statuses: ['finished'], results: ['passed'] });
    const again = await t.api('PATCH', `/api/v1/notification-channels/${c.body.id}`, {
      body: { event_types: ['test.started.scheduled'] },
    });
    expect(again.body).toMatchObject({
      event_types: ['test.started.scheduled'],
      events: {
        'test.started': { enabled: true, triggers: ['scheduled'] },
        'test.finished': { enabled: false },
      },
    });
    const cleared = await t.api('PATCH', `/api/v1/notification-channels/${c.body.id}`, {
      body: { event_types: null },
    });
    expect(cleared.body.event_types).toBeNull();
  });

  it('fails the delivery for good, saying why, when a jinja2 template does not make JSON; previews both engines', async () => {
    const c = await create({
      event_types: ['test.finished.finished'],
      config: { template: '{"name": {{ test.name }}}', template_engine: 'jinja2' },
    });
    expect(c.status).toBe(201);
    await runTo({ status: 'finished' });
    let items: { state: string; last_error: string | null }[] = [];
    for (let i = 0; i < 100 && items[0]?.state !== 'failed'; i++) {
      items = (await deliveries(c.body.id)) as typeof items;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(items[0]).toMatchObject({ state: 'failed' });
    expect(items[0]!.last_error).toMatch(/^the template made a body that is not valid JSON/);
    expect(r.requests).toHaveLength(0);

    for (const [engine, template] of [
      ['jinja2', '{"r": {{ test.result }}, "t": "{{ event.type }}"}'],
      ['liquid', '{"r": {{ test.result }}, "t": "{{ event.type }}"}'],
    ]) {
      const preview = await t.api(
        'POST',
        `/api/v1/organizations/${t.organizationId}/notification-channels/preview`,
        {
          body: {
            type: 'webhook',
            url: r.url(),
            event_types: ['test.finished.success'],
            config: { template, template_engine: engine, header_style: 'k6cloud' },
          },
        },
      );
      expect(preview.status, JSON.stringify(preview.body)).toBe(200);
      expect(JSON.parse(preview.body.body)).toEqual({ r: 0, t: 'test.finished.success' });
      expect(preview.body.headers['User-Agent']).toBe('K6CloudWebHook');
    }
  });

  it('lets owners and admins set the new fields, not members; names who started the run; takes errors only at the end', async () => {
    const c = await create({ event_types: ['test.finished.finished'] });
    const admin = await addMember(t, `admin-${dialect}@example.com`, 'admin');
    const member = await addMember(t, `member-${dialect}@example.com`, 'member');
    const patch = (token: string, body: unknown) =>
      t.api('PATCH', `/api/v1/notification-channels/${c.body.id}`, { token, body });
    expect((await patch(member.token, { event_types: ['test.finished.failed'] })).status).toBe(403);
    expect((await patch(member.token, { config: { header_style: 'k6cloud' } })).status).toBe(403);
    expect((await patch(admin.token, { event_types: ['test.finished.failed'] })).body.event_types).toEqual([
      'test.finished.failed',
    ]);
    const patched = await patch(admin.token, {
      config: {
        template: '{"u": "{{ user.name }}", "id": {{ user.id }}}',
        template_engine: 'jinja2',
        header_style: 'k6cloud',
      },
    });
    expect(patched.status).toBe(200);

    // A run a member starts (members may run tests): the template names them.
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      token: member.token,
      body: {},
    });
    expect(run.status).toBe(201);
    const early = await t.api('POST', `/api/v1/runs/${run.body.id}/status`, {
      token: member.token,
      body: { status: 'running', errors: [{ detail: 'too soon' }] },
    });
    expect(early.status).toBe(400);
    expect(early.body.error).toMatchObject({
      message: 'errors can only be reported with a terminal status, not running',
      details: [{ field: 'errors', message: expect.any(String) }],
    });
    await t.api('POST', `/api/v1/runs/${run.body.id}/status`, {
      token: member.token,
      body: { status: 'running' },
    });
    await t.api('POST', `/api/v1/runs/${run.body.id}/status`, {
      token: member.token,
      body: {
        status: 'aborted_by_script_error',
        errors: [{ detail: 'ReferenceError: x is not defined', code: 107 }],
      },
    });
    const [req] = await r.waitFor(1);
    expect(JSON.parse(req!.body)).toEqual({ u: `member-${dialect}@example.com`, id: member.userId });
    expect((await t.api('GET', `/api/v1/runs/${run.body.id}`)).body).toMatchObject({
      summary: null,
      errors: [{ code: 107, created: expect.any(String), detail: 'ReferenceError: x is not defined' }],
    });
  });

  it('describes the new fields in the OpenAPI document and the channel catalogue', async () => {
    const doc = await t.api('GET', '/api/openapi.json', { token: null });
    const schema =
      doc.body.paths['/api/v1/organizations/{id}/notification-channels'].post.requestBody.content[
        'application/json'
      ].schema;
    expect(JSON.stringify(schema.properties.event_types)).toContain('test.finished.aborted_limit');
    expect(schema.properties.config.description).toContain('header_style (loadimpact | k6cloud)');
    expect(schema.properties.config.description).toContain('template_engine (liquid | jinja2)');
    const patch =
      doc.body.paths['/api/v1/notification-channels/{id}'].patch.requestBody.content['application/json'];
    expect(Object.keys(patch.schema.properties)).toContain('event_types');
    const catalogue = await t.api('GET', '/api/v1/channel-types');
    const webhook = catalogue.body.items.find((i: { type: string }) => i.type === 'webhook');
    const fields = Object.fromEntries(webhook.fields.map((f: { key: string }) => [f.key, f]));
    expect(fields.header_style).toMatchObject({ kind: 'select', required: false });
    expect(fields.template_engine).toMatchObject({ kind: 'select', required: false });
  });
});
