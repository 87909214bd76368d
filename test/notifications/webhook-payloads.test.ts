import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

describe.each(DIALECTS)('webhook payload versions and templates (%s)', (dialect) => {
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
    r = await startReceiver(() => ({ status: 204 }));
    return t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'hook', url: r.url(), ...body },
    });
  };

  it('sends the extended payload, signed, for a finished run', async () => {
    const c = await create({
      config: { payload_version: 'extended' },
      events: { 'test.started': { enabled: false } },
    });
    expect(c.status).toBe(201);
    expect(c.body.config).toEqual({ payload_version: 'extended' });
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: { trigger: 'api' } });
    await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
    await t.api('POST', `/api/v1/runs/${run.body.id}/status`, {
      body: { status: 'finished', result: 'passed' },
    });
    const [req] = await r.waitFor(1);
    const body = new Webhook(c.body.signing_secret).verify(req!.body, req!.headers as Record<string, string>);
    expect(body).toMatchObject({
      status: 3,
      status_text: 'Finished',
      name: 'Checkout',
      load_test_run_id: run.body.id,
      event: 'test.finished',
      run_status: 'finished',
      result: 'passed',
      trigger: 'api',
      load_test_name: 'Checkout',
      project_name: 'Shop',
      summary: null,
      url: `${t.server.ctx.config.publicUrl.replace(/\/+$/, '')}/runs/${run.body.id}`,
    });
    expect(typeof (body as { duration_seconds: unknown }).duration_seconds).toBe('number');
  });

  it('keeps one source of truth for the numbering: a contradicting payload_version is a 400 naming it', async () => {
    const bad = await create({ status_scheme: 'k6', config: { payload_version: 'loadimpact-v3' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([
      { field: 'config.payload_version', message: expect.stringMatching(/contradicts status_scheme k6/) },
    ]);
    const ok = await create({ status_scheme: 'loadimpact-v3', config: { payload_version: 'loadimpact-v3' } });
    expect(ok.status).toBe(201);
    const flip = await t.api('PATCH', `/api/v1/notification-channels/${ok.body.id}`, {
      body: { status_scheme: 'k6' },
    });
    expect(flip.status).toBe(400);
    expect(flip.body.error.details[0].field).toBe('config.payload_version');
    const both = await t.api('PATCH', `/api/v1/notification-channels/${ok.body.id}`, {
      body: { status_scheme: 'k6', config: { payload_version: null } },
    });
    expect(both.status).toBe(200);
    expect(both.body).toMatchObject({ status_scheme: 'k6', config: {} });
  });

  it('refuses a template that does not parse, naming the line', async () => {
    const bad = await create({
      config: { template: '{\n  "text": "{{ name }}",\n  "x": {{ name | shout }}\n}' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('config.template: line 3: undefined filter: shout');
    expect(bad.body.error.details[0].field).toBe('config.template');
  });

  it('renders a template into the body with its content type, and records a render failure as permanent', async () => {
    const c = await create({
      config: {
        template: 'Run {{ event }} from {{ name | default: "the Test Hook" }}',
        content_type: 'text/plain',
      },
    });
    expect(c.status).toBe(201);
    const hook = await t.api('POST', `/api/v1/notification-channels/${c.body.id}/test`);
    expect(hook.body.outcome).toBe('delivered');
    const [req] = await r.waitFor(1);
    expect(req!.body).toBe('Run test.notification_channel from the Test Hook');
    expect(req!.headers['content-type']).toBe('text/plain');
    expect(
      new Webhook(c.body.signing_secret).verify(
        req!.body,
        req!.headers as Record<string, string>,
        { jsonParse: false } as never,
      ),
    ).toBeUndefined();

    // Parses, but cannot render within the limits.
    const patched = await t.api('PATCH', `/api/v1/notification-channels/${c.body.id}`, {
      body: { config: { template: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' } },
    });
    expect(patched.status).toBe(200);
    const failed = await t.api('POST', `/api/v1/notification-channels/${c.body.id}/test`);
    expect(failed.body.outcome).toBe('failed');
    expect(failed.body.reason).toMatch(/^the template failed: line 1: .*limit exceeded/);
    expect(failed.body.attempt).toMatchObject({ outcome: 'permanent', error: failed.body.reason });
    expect(r.requests).toHaveLength(1);
  });
});
