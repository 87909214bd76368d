import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import type { RunSnapshot } from '../core/events.js';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import { resolveChannelConfig } from '../http/channel-config.js';
import { redactForLog, secretValues } from '../delivery/redact.js';
import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import type { Exchange, ReceiverResponse, RenderContext, RenderedRequest } from './channel.js';
import { annotationId, checkGrafanaUrl, classifyGrafana, grafanaChannel, outcomeWord } from './grafana.js';

const TOKEN = 'glsa_HOJzSoCkLRnGdLFQGMvzwbcBYGcy9TAz_3fa29c07';
const BASE = 'https://grafana.example.com/monitoring/';
const channel = (config: Record<string, unknown> = {}) =>
  deliveryChannel({ type: 'grafana', name: 'Dashboards', url: BASE, config: { token: TOKEN, ...config } });
const run = (over: Partial<RunSnapshot> = {}): RunSnapshot =>
  runSnapshot({ ...CHECKOUT, load_test_name: 'Checkout <b>&</b>', ...over });
const started = (over: Partial<RunSnapshot> = {}) =>
  storedEvent({
    type: 'test.started',
    run: run({ status: 'running', result: null, ended_at: null, ...over }),
  });
const finished = (over: Partial<RunSnapshot> = {}) => storedEvent({ type: 'test.finished', run: run(over) });
const hook = storedEvent({ type: 'test.notification_channel', run: null });
const ctx = (remembered: string | null = null): RenderContext => ({ ...RENDER_CTX, remembered });

const render = (event = started(), c = channel(), remembered: string | null = null) => {
  const request = grafanaChannel.render(event, c, ctx(remembered)) as RenderedRequest;
  return { request, body: JSON.parse(request.body) as Record<string, any> };
};
const answer = (status: number, body: unknown, headers: Record<string, string> = {}): ReceiverResponse => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const next = (event: ReturnType<typeof started>, exchanges: Exchange[], c = channel()) =>
  grafanaChannel.next!(event, c, ctx(), exchanges);

const START_MS = Date.parse('2026-11-23T10:00:05Z');
const END_MS = Date.parse('2026-11-23T10:05:08Z');

describe('grafana render', () => {
  it('starts a run with a POST to <base>/api/annotations: its start time, tags and the token', () => {
    const { request, body } = render(started(), channel({ dashboard_uid: 'cLV5GDCkz', panel_id: 4 }));
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://grafana.example.com/monitoring/api/annotations',
    });
    expect(request.headers).toMatchObject({
      Authorization: `Bearer ${TOKEN}`,
      'Content-Type': 'application/json',
      Accept: 'application/json',
    });
    expect(body).toEqual({
      dashboardUID: 'cLV5GDCkz',
      panelId: 4,
      time: START_MS,
      tags: ['loadnotify', 'load-test:Checkout <b>&</b>', 'project:Shop', 'trigger:manual'],
      text: expect.any(String),
    });
    expect(body.text).toContain('<b>Checkout &lt;b&gt;&amp;&lt;/b&gt;: run #42 started</b>');
    expect(body.text).toContain(
      '<a href="https://loadnotify.example.com/runs/42">View run #42 in loadnotify</a>',
    );
    expect(body.text).not.toContain('<b>&</b>');
  });

  it('closes the remembered annotation at the end: PATCH with timeEnd, the result as a tag, figures and the link', () => {
    const summary = { requests: 1234, failure_rate: 0.012, p95_ms: 412 };
    const { request, body } = render(
      finished({ result: 'failed', summary }),
      channel({ tags: ['env:staging'] }),
      '17',
    );
    expect(request).toMatchObject({
      method: 'PATCH',
      url: 'https://grafana.example.com/monitoring/api/annotations/17',
    });
    expect(body).toEqual({
      time: START_MS,
      timeEnd: END_MS,
      tags: [
        'loadnotify',
        'load-test:Checkout <b>&</b>',
        'project:Shop',
        'trigger:manual',
        'result:failed',
        'env:staging',
      ],
      text: expect.any(String),
    });
    // PATCH cannot move an annotation to another dashboard: the placement is the start's.
    expect(body).not.toHaveProperty('dashboardUID');
    expect(body.text).toContain('run #42 failed its thresholds');
    expect(body.text).toContain('Requests: 1,234');
    expect(body.text).toContain('p95: 412 ms');
    expect(body.text).toContain('Duration: 5m 3s');
    expect(body.text).toContain('<a href="https://loadnotify.example.com/runs/42">');
    expect(body.text.split('<br>').length).toBeGreaterThan(4);
  });

  it('makes the whole region at the end when nothing was remembered', () => {
    const { request, body } = render(finished(), channel({ dashboard_uid: 'cLV5GDCkz' }));
    expect(request).toMatchObject({ method: 'POST', url: `${BASE}api/annotations` });
    expect(body).toMatchObject({
      dashboardUID: 'cLV5GDCkz',
      time: START_MS,
      timeEnd: END_MS,
      tags: expect.arrayContaining(['result:passed']),
    });
  });

  it('starts a run that never ran at its creation, and never ends a region before it starts', () => {
    const { body } = render(
      finished({
        status: 'aborted_by_user',
        result: null,
        started_at: null,
        ended_at: '2026-11-23T09:59:00Z',
      }),
    );
    expect(body.time).toBe(Date.parse('2026-11-23T10:00:00Z'));
    expect(body.timeEnd).toBe(body.time);
    expect(body.tags).toContain('result:aborted_by_user');
  });

  it('marks the start again on the same annotation when a start is redelivered', () => {
    const { request, body } = render(started(), channel(), '17');
    expect(request).toMatchObject({ method: 'PATCH', url: `${BASE}api/annotations/17` });
    expect(body).toEqual({ time: START_MS });
  });

  it('sends the Test Hook as a point annotation now, tagged test, on the channel’s dashboard', () => {
    const { request, body } = render(hook, channel({ dashboard_uid: 'abc' }));
    expect(request.method).toBe('POST');
    expect(body).toMatchObject({
      dashboardUID: 'abc',
      time: RENDER_CTX.now.getTime(),
      tags: ['loadnotify', 'test'],
    });
    expect(body).not.toHaveProperty('timeEnd');
    expect(body.text).toContain('if you can read it, this channel works');
  });

  it('keeps one memory per run, and none for the Test Hook', () => {
    expect(grafanaChannel.stateKey!(started(), channel())).toBe('run:42');
    expect(grafanaChannel.stateKey!(finished(), channel())).toBe('run:42');
    expect(grafanaChannel.stateKey!(hook, channel())).toBeNull();
  });

  it('keeps the token out of the attempt log, also as the Authorization header', () => {
    const c = channel();
    const logged = redactForLog(render(started(), c).request, secretValues(grafanaChannel, c));
    expect(logged.headers.Authorization).toBe('Bearer ****');
    expect(JSON.stringify(logged)).not.toContain(TOKEN);
  });

  it('names the outcome the way the result tag does', () => {
    expect(outcomeWord({ status: 'finished', result: 'passed' })).toBe('passed');
    expect(outcomeWord({ status: 'finished', result: null })).toBe('finished');
    expect(outcomeWord({ status: 'timed_out', result: null })).toBe('timed_out');
  });
});

describe('grafana next', () => {
  const post = render(started()).request;
  const patch = render(finished(), channel(), '17').request;

  it('remembers the id Grafana gave the start’s annotation', () => {
    const step = next(started(), [
      { request: post, response: answer(200, { message: 'Annotation added', id: 17 }) },
    ]);
    expect(step).toEqual({ end: { kind: 'delivered' }, remember: '17' });
  });

  it('keeps the id when the end patched it, so a redelivered end patches the same one', () => {
    const step = next(finished(), [
      { request: patch, response: answer(200, { message: 'Annotation patched' }) },
    ]);
    expect(step).toEqual({ end: { kind: 'delivered' } });
  });

  it('makes the whole region when the remembered annotation was deleted (PATCH 404)', () => {
    const step = next(finished(), [
      { request: patch, response: answer(404, { message: 'Annotation not found' }) },
    ]);
    if (!('request' in step)) throw new Error(`expected another request, got ${JSON.stringify(step)}`);
    const again = step.request as RenderedRequest;
    expect(again).toMatchObject({ method: 'POST', url: `${BASE}api/annotations` });
    expect(JSON.parse(again.body)).toMatchObject({ time: START_MS, timeEnd: END_MS });
    const then = next(finished(), [
      { request: patch, response: answer(404, { message: 'Annotation not found' }) },
      { request: again, response: answer(200, { message: 'Annotation added', id: 18 }) },
    ]);
    expect(then).toEqual({ end: { kind: 'delivered' }, remember: '18' });
  });

  it('remembers nothing for the Test Hook', () => {
    const request = render(hook).request;
    expect(next(hook, [{ request, response: answer(200, { message: 'Annotation added', id: 3 }) }])).toEqual({
      end: { kind: 'delivered' },
    });
  });

  it('does not take a 200 without an id for Grafana’s (a sign-in page in front of it)', () => {
    const step = next(started(), [{ request: post, response: answer(200, '<html>Sign in</html>') }]);
    expect(step).toMatchObject({
      end: { kind: 'permanent', reason: expect.stringContaining('not Grafana’s') },
    });
    expect(step).not.toHaveProperty('remember');
  });

  it('ends with Grafana’s reading of a failure, remembering nothing', () => {
    const step = next(started(), [{ request: post, response: answer(401, { message: 'Unauthorized' }) }]);
    expect(step).toEqual({
      end: {
        kind: 'permanent',
        reason: 'HTTP 401: Unauthorized (the service account token is wrong, expired or revoked)',
      },
    });
  });
});

describe('grafana classify', () => {
  it.each([
    [401, 'permanent', 'token is wrong'],
    [403, 'permanent', 'Editor role'],
    [400, 'permanent', 'Failed to save annotation'],
    [404, 'permanent', 'no Grafana annotations API at this address'],
    [429, 'retry', 'HTTP 429'],
    [500, 'retry', 'HTTP 500'],
    [503, 'retry', 'HTTP 503'],
  ])('reads %i as %s', (status, kind, reason) => {
    const verdict = classifyGrafana(answer(status, { message: 'Failed to save annotation' }), 'POST');
    expect(verdict).toMatchObject({ kind, reason: expect.stringContaining(reason) });
  });

  it('honours Retry-After on a 429', () => {
    expect(
      classifyGrafana(answer(429, { message: 'Too many requests' }, { 'retry-after': '7' })),
    ).toMatchObject({
      kind: 'retry',
      afterMs: 7000,
    });
  });

  it('reads only a positive whole id from an answer', () => {
    expect(annotationId('{"message":"Annotation added","id":1}')).toBe('1');
    expect(annotationId('{"message":"Annotation added"}')).toBeNull();
    expect(annotationId('{"id":"1"}')).toBeNull();
    expect(annotationId('{"id":0}')).toBeNull();
    expect(annotationId('ok')).toBeNull();
  });
});

describe('grafana settings', () => {
  const field = (input: Record<string, unknown>) => {
    try {
      resolveChannelConfig(grafanaChannel, input);
      return null;
    } catch (err) {
      if (err instanceof AppError) return (err.details as { field: string }[])[0]!.field;
      throw err;
    }
  };

  it('seals the token and shows the rest', () => {
    expect(
      resolveChannelConfig(grafanaChannel, { token: TOKEN, dashboard_uid: 'a-b_C', tags: ['x'] }),
    ).toEqual({
      config: { dashboard_uid: 'a-b_C', tags: ['x'] },
      secrets: { token: TOKEN },
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no token', {}, 'config.token'],
    ['a token with a line break', { token: `${TOKEN}\n` }, 'config.token'],
    ['a dashboard UID with a slash', { token: TOKEN, dashboard_uid: 'd/abc' }, 'config.dashboard_uid'],
    ['a panel without a dashboard', { token: TOKEN, panel_id: 2 }, 'config.dashboard_uid'],
    ['a panel id of 0', { token: TOKEN, dashboard_uid: 'a', panel_id: 0 }, 'config.panel_id'],
    ['a tag of two lines', { token: TOKEN, tags: ['a\nb'] }, 'config.tags'],
    ['eleven tags', { token: TOKEN, tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, 'config.tags'],
    ['an unknown setting', { token: TOKEN, org_id: 1 }, 'config.org_id'],
  ])('refuses %s, naming the field', (_what, input, name) => {
    expect(field(input)).toBe(name);
  });

  it.each([
    ['ftp://grafana.example.com', 'http:// or https://'],
    ['https://grafana.example.com/?orgId=1', 'without a ?query'],
    ['https://grafana.example.com/api/annotations', 'without /api/annotations'],
    ['https://grafana.example.com/grafana/api', 'without /api/annotations'],
  ])('refuses the URL %s', (url, reason) => {
    expect(checkGrafanaUrl(new URL(url))).toContain(reason);
  });

  it('takes Grafana’s address, with the sub-path it is served under', () => {
    expect(checkGrafanaUrl(new URL('https://grafana.example.com'))).toBeNull();
    expect(checkGrafanaUrl(new URL('https://example.com/grafana/'))).toBeNull();
    expect(checkGrafanaUrl(new URL('https://example.com/apis-and-more/'))).toBeNull();
  });
});
