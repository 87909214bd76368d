import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import { describe, expect, it } from 'vitest';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { RunSnapshot, StoredEvent } from '../core/events.js';
import type { Message } from '../core/message.js';
import type { RunResult, RunStatus } from '../core/run-status.js';
import { escapeHtml } from '../core/html.js';
import { HIPCHAT_MAX_MESSAGE_CHARS, classifyHipchat, hipchatBody, hipchatChannel } from './hipchat.js';

function run(over: Partial<RunSnapshot> = {}): RunSnapshot {
  return runSnapshot({ ...CHECKOUT, trigger: 'scheduled', ...over });
}
const stored = storedEvent;
const finished = (over: Partial<RunSnapshot> = {}) => stored({ type: 'test.finished', run: run(over) });
const channel = deliveryChannel({
  type: 'hipchat',
  name: 'Room',
  url: 'https://hipchat.example.com/v2/room/123/notification?auth_token=secret',
});
const ctx = RENDER_CTX;

interface HipchatBody {
  message: string;
  message_format: string;
  color: string;
  notify: boolean;
}
const render = (event: StoredEvent): HipchatBody =>
  JSON.parse(hipchatChannel.render(event, channel, ctx).body) as HipchatBody;

describe('hipchat render', () => {
  it('posts a v2 room notification to the room URL, token included', () => {
    const request = hipchatChannel.render(finished(), channel, ctx);
    expect(request.url).toBe(channel.url);
    expect(request.headers['Content-Type']).toBe('application/json');
    expect(render(finished())).toEqual({
      message:
        '<b><a href="https://loadnotify.example.com/runs/42">Checkout: run #42 passed</a></b>' +
        '<br>Checkout in Shop: run #42 passed after 5m 3s.' +
        '<br><b>Test:</b> Checkout<br><b>Project:</b> Shop<br><b>Status:</b> Finished' +
        '<br><b>Result:</b> Passed<br><b>Trigger:</b> Scheduled<br><b>Duration:</b> 5m 3s',
      message_format: 'html',
      color: 'green',
      notify: false,
    });
  });

  it.each([
    ['finished', 'passed', 'green', false],
    ['finished', 'failed', 'red', true],
    ['timed_out', null, 'red', true],
    ['aborted_by_system', null, 'red', true],
  ] as const)('%s/%s is %s, notify %s', (status: RunStatus, result: RunResult | null, color, notify) => {
    expect(render(finished({ status, result }))).toMatchObject({ color, notify });
  });

  it('a start is gray and silent', () => {
    const body = render(stored({ type: 'test.started', run: run({ status: 'running', result: null }) }));
    expect(body).toMatchObject({ color: 'gray', notify: false });
  });

  it('escapes user text as HTML', () => {
    const body = render(finished({ load_test_name: `<script>alert('x')</script> & "co"` }));
    expect(body.message).not.toContain('<script>');
    expect(body.message).toContain('&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;');
    expect(escapeHtml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  });

  it('the Test Hook sends a test message', () => {
    const body = render(stored({ type: 'test.notification_channel', run: null }));
    expect(body.message).toContain('Test notification from loadnotify');
    expect(body).toMatchObject({ message_format: 'html', color: 'gray', notify: false });
  });

  it('falls back to truncated plain text above 10,000 characters', () => {
    const huge: Message = {
      title: 'T',
      summary: 'S',
      facts: Array.from({ length: 2000 }, (_, i) => ({ label: `L${i}`, value: '<&>' })),
      color: 'danger',
      link: null,
    };
    const body = hipchatBody(huge);
    expect(body.message_format).toBe('text');
    expect(String(body.message).length).toBeLessThanOrEqual(HIPCHAT_MAX_MESSAGE_CHARS);
    expect(String(body.message)).toMatch(/^T\nS\nL0: <&>/);
  });
});

const response = (status: number, body = '', headers: Record<string, string> = {}) => ({
  status,
  body,
  headers,
});

describe('hipchat classify', () => {
  it.each([200, 204])('%i is delivered', (status) => {
    expect(classifyHipchat(response(status))).toEqual({ kind: 'delivered' });
  });

  it.each([400, 401, 403, 404, 410])('%i is permanent', (status) => {
    expect(classifyHipchat(response(status)).kind).toBe('permanent');
  });

  it("uses HipChat's error message as the reason", () => {
    const body = '{"error": {"code": 404, "message": "Room not found", "type": "Not Found"}}';
    expect(classifyHipchat(response(404, body))).toEqual({
      kind: 'permanent',
      reason: 'HTTP 404: Room not found',
    });
    expect(classifyHipchat(response(401, 'Unauthorized'))).toEqual({
      kind: 'permanent',
      reason: 'HTTP 401: Unauthorized',
    });
  });

  it('429 flood control is retried after Retry-After', () => {
    expect(classifyHipchat(response(429, '', { 'retry-after': '60' }))).toMatchObject({
      kind: 'retry',
      afterMs: 60_000,
    });
  });

  it.each([500, 502, 503])('%i is retried', (status) => {
    expect(classifyHipchat(response(status)).kind).toBe('retry');
  });
});
