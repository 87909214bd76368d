import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import { describe, expect, it } from 'vitest';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { RunSnapshot } from '../core/events.js';
import type { RunResult, RunStatus } from '../core/run-status.js';
import { AppError } from '../core/errors.js';
import { DEFAULT_CHANNEL_EVENTS } from '../core/filters.js';
import { resolveChannelConfig } from '../http/channel-config.js';
import type { ReceiverResponse, RenderContext } from './channel.js';
import { PAGERDUTY_EVENTS_URL, classifyPagerDuty, dedupKey, pagerdutyChannel } from './pagerduty.js';

const KEY = 'R0123456789abcdefABCDEF012345678';
const run = (over: Partial<RunSnapshot> = {}): RunSnapshot => runSnapshot({ ...CHECKOUT, ...over });
const finished = (over: Partial<RunSnapshot> = {}) => storedEvent({ type: 'test.finished', run: run(over) });
const channel = deliveryChannel({
  type: 'pagerduty',
  name: 'On call',
  url: PAGERDUTY_EVENTS_URL,
  config: { routing_key: KEY, severity: 'critical' },
});
const ctx: RenderContext = { ...RENDER_CTX, now: new Date('2026-11-23T10:06:00Z') };
const render = (event = finished()) => {
  const request = pagerdutyChannel.render(event, channel, ctx);
  return { request, body: JSON.parse(request.body) as Record<string, any> };
};

describe('pagerduty render', () => {
  it('triggers on failed thresholds, keyed per load test, with the run in payload and links', () => {
    const { request, body } = render(finished({ result: 'failed' }));
    expect(request).toMatchObject({ method: 'POST', url: PAGERDUTY_EVENTS_URL });
    expect(request.headers['Content-Type']).toBe('application/json');
    expect(body).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: 'loadnotify-1-3',
      client: 'loadnotify',
      client_url: 'https://loadnotify.example.com/runs/42',
      links: [{ href: 'https://loadnotify.example.com/runs/42', text: 'View run #42 in loadnotify' }],
      payload: {
        summary: 'Checkout in Shop: run #42 failed its thresholds after 5m 3s.',
        source: 'Shop / Checkout',
        severity: 'critical',
        timestamp: '2026-11-23T10:05:08Z',
        component: 'Checkout',
        group: 'Shop',
        class: 'load test',
      },
    });
    expect(body.payload.custom_details).toMatchObject({
      Test: 'Checkout',
      Project: 'Shop',
      Result: 'Failed',
      run_id: 42,
      load_test_id: 3,
      status: 'finished',
      result: 'failed',
    });
  });

  it.each<[RunStatus, RunResult | null, string]>([
    ['finished', 'failed', 'trigger'],
    ['timed_out', null, 'trigger'],
    ['aborted_by_user', null, 'trigger'],
    ['aborted_by_system', null, 'trigger'],
    ['aborted_by_threshold', 'failed', 'trigger'],
    ['aborted_by_script_error', null, 'trigger'],
    ['finished', 'passed', 'resolve'],
    ['finished', null, 'resolve'],
  ])('%s/%s -> %s, always with the load test’s dedup_key', (status, result, action) => {
    const { body } = render(finished({ status, result }));
    expect(body.event_action).toBe(action);
    expect(body.dedup_key).toBe(dedupKey({ organization_id: 1, load_test_id: 3 }));
  });

  it('resolves with just the key: nothing to describe', () => {
    expect(render(finished({ result: 'passed' })).body).toEqual({
      routing_key: KEY,
      event_action: 'resolve',
      dedup_key: 'loadnotify-1-3',
      client: 'loadnotify',
      client_url: 'https://loadnotify.example.com/runs/42',
    });
  });

  it('uses the configured severity, and keeps the summary within 1,024 characters', () => {
    const { body } = render(finished({ result: 'failed', load_test_name: 'x'.repeat(5000) }));
    expect(body.payload.severity).toBe('critical');
    expect(body.payload.summary.length).toBeLessThanOrEqual(1024);
    expect(body.payload.source.length).toBeLessThanOrEqual(255);
  });

  it('sends the Test Hook as an info trigger under a key of its own', () => {
    const { body } = render(storedEvent({ type: 'test.notification_channel', run: null }));
    expect(body).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: 'loadnotify-1-channel-7-test',
      payload: { severity: 'info', source: 'loadnotify', class: 'test notification' },
    });
    expect(body.payload.summary).toContain('On call');
  });

  it('never renders a start', () => {
    const start = storedEvent({ type: 'test.started', run: run({ status: 'running', result: null }) });
    expect(() => pagerdutyChannel.render(start, channel, ctx)).toThrow(/events\.test\.started\.enabled/);
  });
});

describe('pagerduty settings and events', () => {
  const field = (input: Record<string, unknown>) => {
    try {
      resolveChannelConfig(pagerdutyChannel, input);
      return null;
    } catch (err) {
      if (err instanceof AppError) return (err.details as { field: string }[])[0]!.field;
      throw err;
    }
  };

  it('keeps the routing key secret and defaults the severity to error', () => {
    expect(resolveChannelConfig(pagerdutyChannel, { routing_key: KEY })).toEqual({
      config: { severity: 'error' },
      secrets: { routing_key: KEY },
    });
  });

  it.each<[Record<string, unknown>, string]>([
    [{}, 'config.routing_key'],
    [{ routing_key: 'short' }, 'config.routing_key'],
    [{ routing_key: `${KEY}0` }, 'config.routing_key'],
    [{ routing_key: `${KEY.slice(1)}-` }, 'config.routing_key'],
    [{ routing_key: KEY, severity: 'fatal' }, 'config.severity'],
    [{ routing_key: KEY, team: 'x' }, 'config.team'],
  ])('refuses %j naming %s', (input, name) => {
    expect(field(input)).toBe(name);
  });

  it('hears no starts by default and refuses them, naming the field', () => {
    expect(pagerdutyChannel.defaultEvents?.['test.started'].enabled).toBe(false);
    expect(pagerdutyChannel.checkEvents?.(pagerdutyChannel.defaultEvents!)).toBeNull();
    expect(pagerdutyChannel.checkEvents?.(DEFAULT_CHANNEL_EVENTS)).toMatchObject({
      field: 'events.test.started.enabled',
    });
  });
});

describe('pagerduty classify', () => {
  const res = (status: number, body = '', headers: Record<string, string> = {}): ReceiverResponse => ({
    status,
    headers,
    body,
  });

  it('is delivered on 202', () => {
    const ok = '{"status":"success","message":"Event processed","dedup_key":"loadnotify-1-3"}';
    expect(classifyPagerDuty(res(202, ok))).toEqual({ kind: 'delivered' });
  });

  it('never retries a 400, and says what PagerDuty found wrong', () => {
    const body = JSON.stringify({
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: ["Length of 'routing_key' is incorrect (should be 32 characters)"],
    });
    expect(classifyPagerDuty(res(400, body))).toEqual({
      kind: 'permanent',
      reason:
        "HTTP 400: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)",
    });
    expect(classifyPagerDuty(res(400, 'bad'))).toEqual({ kind: 'permanent', reason: 'HTTP 400: bad' });
  });

  it('retries 429 and 5xx, honouring Retry-After', () => {
    expect(classifyPagerDuty(res(429, '', { 'retry-after': '30' }))).toMatchObject({
      kind: 'retry',
      afterMs: 30_000,
    });
    for (const status of [500, 502, 503]) expect(classifyPagerDuty(res(status)).kind).toBe('retry');
  });
});
