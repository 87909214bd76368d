import { describe, expect, it } from 'vitest';
import { runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { EventData } from '../core/events.js';
import type { StatusScheme } from '../core/run-status.js';
import type { ChannelForDelivery, RenderContext } from './channel.js';
import { generateSigningSecret, verifyWebhook } from '../core/signing.js';
import { WEBHOOK_USER_AGENT, checkHttpUrl, classifyHttp, webhookChannel } from './webhook.js';

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
