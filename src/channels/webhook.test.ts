import { describe, expect, it } from 'vitest';
import { runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { EventData } from '../core/events.js';
import type { StatusScheme } from '../core/run-status.js';
import type { ChannelForDelivery, RenderContext } from './channel.js';
import { generateSigningSecret, verifyWebhook } from '../core/signing.js';
import {
  PRODUCT,
  WEBHOOK_USER_AGENT,
  checkHttpUrl,
  classifyHttp,
  jsonErrorReason,
  postJson,
  webhookChannel,
} from './webhook.js';
import { checkTemplate, renderTemplate } from './webhook-template.js';

const runEvent = (type: 'test.started' | 'test.finished'): EventData => ({
  type,
  run: runSnapshot(
    type === 'test.started' ? {} : { status: 'finished', result: 'passed', ended_at: '2026-11-23T10:05:00Z' },
  ),
});
const stored = storedEvent;
const channel = (scheme: StatusScheme = 'k6'): ChannelForDelivery => ({
  id: 7,
  organization_id: 1,
  type: 'webhook',
  name: 'CI hook',
  url: 'https://ci.example.com/hooks/1a2b',
  status_scheme: scheme,
  config: {},
});
const ctx: RenderContext = {
  webhookId: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
  requestId: '19c5d426-3b4d-43c3-8277-37ad7d457430',
  publicUrl: 'https://loadnotify.example.com',
  now: new Date('2026-11-23T10:00:00Z'),
};

describe('webhook render', () => {
  it('posts the documented started body to the channel URL', () => {
    const request = webhookChannel.render(stored(runEvent('test.started')), channel(), ctx);
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://ci.example.com/hooks/1a2b');
    expect(request.body).toBe(
      '{"status":2,"status_text":"Running","user_id":1,"name":"Load test","organization_id":1,' +
        '"load_test_id":1,"load_test_run_id":1,"project_id":1,"event":"test.started"}',
    );
  });

  it('uses the channel status scheme', () => {
    const data = runEvent('test.finished');
    if (data.run) data.run.result = 'failed';
    const body = JSON.parse(webhookChannel.render(stored(data), channel('loadimpact-v3'), ctx).body);
    expect(body).toMatchObject({ status: 12, status_text: 'Failed threshold', event: 'test.finished' });
  });

  it('sends exactly the documented headers', () => {
    const request = webhookChannel.render(stored(runEvent('test.finished')), channel(), ctx);
    expect(request.headers).toEqual({
      'Content-Type': 'application/json',
      'User-Agent': WEBHOOK_USER_AGENT,
      'X-LoadImpact-ID': ctx.requestId,
      'X-LoadImpact-Event': 'test.finished',
      'webhook-id': ctx.webhookId,
    });
    expect(request.headers['User-Agent']).toMatch(/^LoadImpactWebHook/);
  });

  it('X-LoadImpact-ID follows the request id of each attempt; webhook-id stays', () => {
    const second = { ...ctx, requestId: 'a0b1c2d3-0000-4000-8000-000000000000' };
    const request = webhookChannel.render(stored(runEvent('test.started')), channel(), second);
    expect(request.headers['X-LoadImpact-ID']).toBe(second.requestId);
    expect(request.headers['webhook-id']).toBe(ctx.webhookId);
  });

  it('the Test Hook sends the documented test body', () => {
    const request = webhookChannel.render(
      stored({ type: 'test.notification_channel', run: null }),
      channel(),
      ctx,
    );
    expect(request.body).toBe('{"event":"test.notification_channel"}');
    expect(request.headers['X-LoadImpact-Event']).toBe('test.notification_channel');
  });
});

describe('webhook signing', () => {
  const [current, previous] = [generateSigningSecret(), generateSigningSecret()];
  const signed = (expiresAt: number) => ({
    ...channel(),
    signing_secrets: [
      { secret: current, expires_at: null },
      { secret: previous, expires_at: expiresAt },
    ],
  });
  const render = (c: ChannelForDelivery, now = ctx.now) =>
    webhookChannel.render(stored(runEvent('test.started')), c, { ...ctx, now });

  it('signs with the attempt time as webhook-timestamp', () => {
    const request = render({ ...channel(), signing_secrets: [{ secret: current, expires_at: null }] });
    expect(request.headers['webhook-timestamp']).toBe(String(ctx.now.getTime() / 1000));
    expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(verifyWebhook(current, request.headers, request.body, { now: ctx.now }).id).toBe(ctx.webhookId);
  });

  it('signs with both secrets until the previous one expires, then with the current one only', () => {
    const expiry = ctx.now.getTime() + 1000;
    const during = render(signed(expiry));
    expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [current, previous])
      expect(() => verifyWebhook(secret, during.headers, during.body, { now: ctx.now })).not.toThrow();
    const after = render(signed(expiry), new Date(expiry));
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(() => verifyWebhook(previous, after.headers, after.body, { now: new Date(expiry) })).toThrow(
      /no v1 signature/,
    );
  });

  it('sends no signature headers for a channel without a secret', () => {
    const request = render({ ...channel(), signing_secrets: [] });
    expect(Object.keys(request.headers).filter((h) => h.startsWith('webhook-'))).toEqual(['webhook-id']);
  });
});

const response = (status: number, body = '', headers: Record<string, string> = {}) => ({
  status,
  body,
  headers,
});

describe('webhook classify', () => {
  it.each([200, 201, 202, 204, 299])('%i is delivered', (status) => {
    expect(classifyHttp(response(status))).toEqual({ kind: 'delivered' });
  });

  it('410 is permanent and says why', () => {
    const outcome = classifyHttp(response(410, 'gone'));
    expect(outcome.kind).toBe('permanent');
    expect(outcome.kind === 'permanent' && outcome.reason).toMatch(/410.*gone/);
  });

  it.each([301, 400, 401, 403, 404, 408, 422, 425, 429, 500, 502, 503, 504])('%i is retried', (status) => {
    expect(classifyHttp(response(status, 'nope'))).toMatchObject({
      kind: 'retry',
      reason: 'HTTP ' + status + ': nope',
    });
  });

  it('honours Retry-After in seconds and as a date', () => {
    expect(classifyHttp(response(429, '', { 'retry-after': '30' }))).toMatchObject({
      kind: 'retry',
      afterMs: 30_000,
    });
    const dated = response(503, '', {
      date: 'Mon, 23 Nov 2026 10:00:00 GMT',
      'retry-after': 'Mon, 23 Nov 2026 10:02:00 GMT',
    });
    expect(classifyHttp(dated)).toMatchObject({ kind: 'retry', afterMs: 120_000 });
  });

  it('without Retry-After leaves the wait to the engine', () => {
    expect(classifyHttp(response(500))).toEqual({ kind: 'retry', reason: 'HTTP 500' });
  });

  it('keeps reasons short', () => {
    const outcome = classifyHttp(response(500, 'x'.repeat(10_000)));
    expect(outcome.kind === 'retry' && outcome.reason.length).toBeLessThan(300);
  });

  it('webhookChannel.classify is the plain HTTP reading', () => {
    expect(webhookChannel.classify(response(204))).toEqual({ kind: 'delivered' });
  });
});

describe('webhook checkUrl', () => {
  it.each(['https://ci.example.com/hook', 'http://127.0.0.1:9000/x', 'https://user:pw@example.com/'])(
    'accepts %s',
    (url) => {
      expect(checkHttpUrl(new URL(url))).toBeNull();
      expect(webhookChannel.checkUrl(new URL(url))).toBeNull();
    },
  );

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'data:text/plain,hi'])(
    'refuses %s',
    (url) => {
      expect(webhookChannel.checkUrl(new URL(url))).toMatch(/http/);
    },
  );
});

describe('jsonErrorReason', () => {
  it.each([
    ['{"error":{"code":404,"message":"Room not found","type":"Not Found"}}', 'HTTP 400: Room not found'],
    [
      '{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}',
      'HTTP 400: INVALID_ARGUMENT: Invalid JSON payload',
    ],
    [
      '{"error":{"code":"WorkflowNotFound","message":"The workflow was not found."}}',
      'HTTP 400: WorkflowNotFound: The workflow was not found.',
    ],
    ['{"message":"Unknown Webhook","code":10015}', 'HTTP 400: Unknown Webhook'],
    [
      '{"id":"web.incoming_webhook.invalid.app_error","message":"Invalid webhook.","status_code":400}',
      'HTTP 400: web.incoming_webhook.invalid.app_error: Invalid webhook.',
    ],
  ])('reads %s', (body, reason) => {
    expect(jsonErrorReason(response(400, body))).toBe(reason);
  });

  it.each(['not json', '[1]', '{"error":"x"}', '{"message":7}', 'null', ''])(
    'falls back to the raw body for %j',
    (body) => {
      expect(jsonErrorReason(response(400, body))).toBe(body ? `HTTP 400: ${body}` : 'HTTP 400');
    },
  );

  it('keeps reasons short', () => {
    const body = JSON.stringify({ message: 'x'.repeat(10_000) });
    expect(jsonErrorReason(response(400, body)).length).toBeLessThan(300);
  });
});

describe('postJson', () => {
  it('posts the body as JSON with our User-Agent', () => {
    expect(postJson('https://x.test/h', { a: 1 })).toEqual({
      method: 'POST',
      url: 'https://x.test/h',
      headers: { 'Content-Type': 'application/json', 'User-Agent': PRODUCT },
      body: '{"a":1}',
    });
  });
});

describe('webhook payload versions', () => {
  const finished: EventData = {
    type: 'test.finished',
    run: runSnapshot({
      status: 'finished',
      result: 'failed',
      ended_at: '2026-11-23T10:05:08.500Z',
      summary: { thresholds_passed: false, requests: 1200, failure_rate: 0.02, p95_ms: 321 },
    }),
  };
  const withConfig = (config: Record<string, unknown>, scheme: StatusScheme = 'k6') => ({
    ...channel(scheme),
    config,
  });

  it('k6 and loadimpact-v3 send the documents body byte for byte', () => {
    const plain = webhookChannel.render(stored(finished), channel(), ctx).body;
    expect(webhookChannel.render(stored(finished), withConfig({ payload_version: 'k6' }), ctx).body).toBe(
      plain,
    );
    expect(
      webhookChannel.render(
        stored(finished),
        withConfig({ payload_version: 'loadimpact-v3' }, 'loadimpact-v3'),
        ctx,
      ).body,
    ).toBe(webhookChannel.render(stored(finished), channel('loadimpact-v3'), ctx).body);
  });

  it('extended adds times, names, trigger, summary and a link after the nine documented keys', () => {
    const body = webhookChannel.render(
      stored(finished),
      withConfig({ payload_version: 'extended' }, 'loadimpact-v3'),
      ctx,
    ).body;
    const parsed = JSON.parse(body);
    expect(Object.keys(parsed).slice(0, 9)).toEqual([
      'status',
      'status_text',
      'user_id',
      'name',
      'organization_id',
      'load_test_id',
      'load_test_run_id',
      'project_id',
      'event',
    ]);
    expect(parsed).toEqual({
      status: 12,
      status_text: 'Failed threshold',
      user_id: 1,
      name: 'Load test',
      organization_id: 1,
      load_test_id: 1,
      load_test_run_id: 1,
      project_id: 1,
      event: 'test.finished',
      run_status: 'finished',
      result: 'failed',
      trigger: 'manual',
      load_test_name: 'Load test',
      project_name: 'Project',
      created_at: '2026-11-23T10:00:00Z',
      started_at: '2026-11-23T10:00:05Z',
      ended_at: '2026-11-23T10:05:08.500Z',
      duration_seconds: 303.5,
      summary: { thresholds_passed: false, requests: 1200, failure_rate: 0.02, p95_ms: 321 },
      comparison: null,
      context: null,
      context_links: { commit: null, pull_request: null, job: null },
      url: 'https://loadnotify.example.com/runs/1',
    });
  });

  it('refuses a payload_version that contradicts status_scheme, naming the field', () => {
    const check = webhookChannel.config!.check!;
    expect(check({ payload_version: 'loadimpact-v3' }, { status_scheme: 'k6' })).toMatchObject({
      field: 'config.payload_version',
      message: expect.stringMatching(/contradicts status_scheme k6/),
    });
    expect(check({ payload_version: 'extended' }, { status_scheme: 'k6' })).toBeNull();
    expect(check({ payload_version: 'k6' }, { status_scheme: 'k6' })).toBeNull();
  });
});

describe('webhook templates', () => {
  const finished: EventData = {
    type: 'test.finished',
    run: runSnapshot({ status: 'finished', result: 'passed', ended_at: '2026-11-23T10:01:05Z' }),
  };
  const check = (config: Record<string, unknown>) =>
    webhookChannel.config!.check!(config, { status_scheme: 'k6' });
  // What the service does in two steps (src/delivery/template-pool.ts): the template job
  // rendered by the engine the workers run, then the channel's render with its output.
  const renderWith = (ch: ChannelForDelivery, data: EventData = finished) => {
    const job = webhookChannel.template!(stored(data), ch, ctx);
    const templateOutput = job ? renderTemplate(job.source, job.scope) : undefined;
    return webhookChannel.render(stored(data), ch, { ...ctx, templateOutput });
  };
  const render = (config: Record<string, unknown>, data: EventData = finished) =>
    renderWith({ ...channel(), config }, data);

  it('renders the body from the extended fields with the given content type', () => {
    const request = render({
      template:
        '{{ name }} run #{{ load_test_run_id }} {{ status_text }} in {{ duration_seconds }}s: {{ url }}',
      content_type: 'text/plain; charset=utf-8',
    });
    expect(request.body).toBe('Load test run #1 Finished in 60s: https://loadnotify.example.com/runs/1');
    expect(request.headers['Content-Type']).toBe('text/plain; charset=utf-8');
  });

  it('defaults to application/json and offers the whole payload for the json filter', () => {
    const request = render({ template: '{"text": {{ name | json }}, "all": {{ payload | json }}}' });
    expect(request.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(request.body).all).toMatchObject({ event: 'test.finished', run_status: 'finished' });
  });

  it('signs the rendered body', () => {
    const secret = generateSigningSecret();
    const request = renderWith({
      ...channel(),
      config: { template: 'hi {{ name }}' },
      signing_secrets: [{ secret, expires_at: null }],
    });
    expect(verifyWebhook(secret, request.headers, 'hi Load test', { now: ctx.now }).id).toBe(ctx.webhookId);
  });

  // What a save checks, in a template worker (src/http/channel-config.ts, checkTemplates).
  const saveProblem = (config: Record<string, unknown>) => {
    for (const t of webhookChannel.config!.templates!(config)) {
      const problem = checkTemplate(t.source, t.engine);
      if (problem) return `${t.field}: ${problem}`;
    }
    return null;
  };

  it('refuses at save time a template that does not parse, naming the line', () => {
    expect(saveProblem({ template: 'a\nb\n{{ name | nope }}' })).toBe(
      'config.template: line 3: undefined filter: nope',
    );
    expect(saveProblem({ template: '{% if x %}\n' })).toMatch(/^config\.template: line 1: tag .* not closed/);
    expect(saveProblem({ template: '{{ name }}' })).toBeNull();
    expect(saveProblem({ template: '{{ x | tojson }}', template_engine: 'jinja2' })).toBeNull();
    expect(saveProblem({})).toBeNull();
  });

  it('refuses file access at save time', () => {
    for (const tag of ['include', 'render', 'layout'])
      expect(saveProblem({ template: `ok\n{% ${tag} "/etc/passwd" %}` })).toMatch(
        new RegExp(`line 2: the ${tag} tag is not available`),
      );
  });

  it('refuses a content type without a template', () => {
    expect(check({ content_type: 'text/plain' })).toMatchObject({ field: 'config.content_type' });
  });

  it('fails a render that runs too long or makes too much, saying why', () => {
    expect(() => render({ template: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' })).toThrow(
      /the template failed: line 1: .*limit exceeded/,
    );
    expect(() =>
      render({ template: `{% for i in (1..700) %}${'0123456789'.repeat(10)}{% endfor %}` }),
    ).toThrow(/made 70000 bytes, over the 64 KiB limit/);
  });

  it('never renders a template on the calling thread: without the output rendered beforehand, render refuses', () => {
    const ch = { ...channel(), config: { template: '{{ name }}' } };
    expect(() => webhookChannel.render(stored(finished), ch, ctx)).toThrow(/not rendered/);
    expect(webhookChannel.template!(stored(finished), channel(), ctx)).toBeNull();
  });

  it('fails fast, naming the limit, on ranges and list filters too large to run', () => {
    const fail = (template: string) => () => render({ template });
    expect(fail('{% assign a = (1..4900000) | sample: 2 %}{{ a | size }}')).toThrow(
      /^the template failed: line 1: memory limit exceeded: one render may make 1000000 items/,
    );
    expect(fail('{% assign a = (1..20000) | uniq | map: "x" %}{{ a | size }}')).toThrow(
      'the template failed: line 1: list limit exceeded: uniq takes at most 10000 items, and was given 20000',
    );
    expect(fail('{% assign a = (1..3) | concat: (1..10001) %}')).toThrow(/concat takes at most 10000 items/);
    expect(render({ template: '{{ (1..5) | sample: 5 | sort | join: "," }}' }).body).toBe('1,2,3,4,5');
  });

  it('renders the test event with the variables it has', () => {
    expect(
      render({ template: '{{ event }}:{{ name }}' }, { type: 'test.notification_channel', run: null }).body,
    ).toBe('test.notification_channel:');
  });
});
