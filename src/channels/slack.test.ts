import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import { describe, expect, it } from 'vitest';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { RunSnapshot, StoredEvent } from '../core/events.js';
import type { RunResult, RunStatus } from '../core/run-status.js';
import type { RenderContext } from './channel.js';
import { SLACK_MAX_TEXT_CHARS, classifySlack, escapeSlack, slackChannel, slackLink } from './slack.js';

function run(over: Partial<RunSnapshot> = {}): RunSnapshot {
  return runSnapshot({ ...CHECKOUT, ...over });
}
const stored = storedEvent;
const finished = (over: Partial<RunSnapshot> = {}) => stored({ type: 'test.finished', run: run(over) });
const channel = deliveryChannel({
  type: 'slack',
  name: 'Team',
  url: 'https://hooks.slack.com/services/T000/B000/XXXX',
});
const ctx = RENDER_CTX;

interface SlackBody {
  text: string;
  attachments: {
    color: string;
    fallback: string;
    title: string;
    title_link?: string;
    text: string;
    fields: { title: string; value: string; short: boolean }[];
  }[];
}
const render = (event: StoredEvent, c: RenderContext = ctx): SlackBody =>
  JSON.parse(slackChannel.render(event, channel, c).body) as SlackBody;

describe('slack render', () => {
  it('posts JSON to the channel URL with text and one attachment', () => {
    const request = slackChannel.render(finished(), channel, ctx);
    expect(request.url).toBe(channel.url);
    expect(request.headers['Content-Type']).toBe('application/json');
    const body = render(finished());
    expect(body.text).toBe('<https://loadnotify.example.com/runs/42|Checkout: run #42 passed>');
    expect(body.attachments).toHaveLength(1);
    const [attachment] = body.attachments;
    expect(attachment).toMatchObject({
      color: 'good',
      title: 'Checkout: run #42 passed',
      title_link: 'https://loadnotify.example.com/runs/42',
      fallback: 'Checkout in Shop: run #42 passed after 5m 3s.',
    });
    expect(attachment?.fields).toContainEqual({ title: 'Project', value: 'Shop', short: true });
    expect(attachment?.fields).toContainEqual({ title: 'Result', value: 'Passed', short: true });
  });

  it('escapes a test named <!channel> so it pings nobody', () => {
    const body = render(finished({ load_test_name: '<!channel> & <@U123>' }));
    const all = JSON.stringify(body);
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<@U123>');
    expect(body.attachments[0]?.title).toBe('&lt;!channel&gt; &amp; &lt;@U123&gt;: run #42 passed');
    expect(body.attachments[0]?.fields[0]).toEqual({
      title: 'Test',
      value: '&lt;!channel&gt; &amp; &lt;@U123&gt;',
      short: true,
    });
    expect(body.text).toBe(
      '<https://loadnotify.example.com/runs/42|&lt;!channel&gt; &amp; &lt;@U123&gt;: run #42 passed>',
    );
  });

  it('escapes only &, < and >', () => {
    expect(escapeSlack(`a & b < c > d "e" 'f' *g* _h_`)).toBe(`a &amp; b &lt; c &gt; d "e" 'f' *g* _h_`);
  });

  it('builds links from publicUrl and keeps them unbreakable', () => {
    expect(render(finished(), { ...ctx, publicUrl: 'http://127.0.0.1:8080' }).text).toMatch(
      /^<http:\/\/127\.0\.0\.1:8080\/runs\/42\|/,
    );
    expect(slackLink('https://x.test/a|b>c', 'go')).toBe('<https://x.test/a%7Cb%3Ec|go>');
  });

  it.each([
    ['finished', 'passed', 'good'],
    ['finished', 'failed', 'danger'],
    ['timed_out', null, 'danger'],
    ['aborted_by_user', null, 'danger'],
    ['aborted_by_threshold', 'failed', 'danger'],
  ] as const)('colours %s/%s %s', (status: RunStatus, result: RunResult | null, color) => {
    expect(render(finished({ status, result })).attachments[0]?.color).toBe(color);
  });

  it('a started run gets the neutral grey', () => {
    const body = render(stored({ type: 'test.started', run: run({ status: 'running', result: null }) }));
    expect(body.attachments[0]?.color).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('the Test Hook sends a plain test message without a link', () => {
    const body = render(stored({ type: 'test.notification_channel', run: null }));
    expect(body.text).toBe('Test notification from loadnotify');
    expect(body.attachments[0]?.title_link).toBeUndefined();
    expect(body.attachments[0]?.text).toMatch(/test notification from loadnotify/);
  });

  it('stays under the text limit', () => {
    const body = render(finished({ load_test_name: '<'.repeat(100_000) }));
    expect(body.text.length).toBeLessThanOrEqual(SLACK_MAX_TEXT_CHARS);
    expect(body.attachments[0]?.text.length).toBeLessThanOrEqual(SLACK_MAX_TEXT_CHARS);
  });
});

const response = (status: number, body = '', headers: Record<string, string> = {}) => ({
  status,
  body,
  headers,
});

describe('slack classify', () => {
  it('200 ok is delivered', () => {
    expect(classifySlack(response(200, 'ok'))).toEqual({ kind: 'delivered' });
  });

  it.each([
    [400, 'invalid_payload'],
    [400, 'user_not_found'],
    [403, 'action_prohibited'],
    [404, 'channel_not_found'],
    [410, 'channel_is_archived'],
    [403, 'invalid_token'],
    [404, 'no_service'],
    [500, 'invalid_token'],
    [500, 'no_service'],
  ])('%i %s is permanent, with the body as reason', (status, body) => {
    expect(classifySlack(response(status, body))).toEqual({
      kind: 'permanent',
      reason: `HTTP ${status}: ${body}`,
    });
  });

  it.each([
    [500, 'rollup_error'],
    [400, 'rollup_error'],
    [400, 'request_timeout'],
    [502, '<html>Bad Gateway</html>'],
    [503, ''],
  ])('%i %j is retried', (status, body) => {
    expect(classifySlack(response(status, body))).toMatchObject({ kind: 'retry' });
  });

  it('429 is retried after Retry-After', () => {
    expect(classifySlack(response(429, 'rate_limited', { 'Retry-After': '2' }))).toEqual({
      kind: 'retry',
      reason: 'HTTP 429: rate_limited',
      afterMs: 2000,
    });
  });

  it('accepts http and https URLs only', () => {
    expect(slackChannel.checkUrl(new URL('https://hooks.slack.com/services/T/B/X'))).toBeNull();
    expect(slackChannel.checkUrl(new URL('http://127.0.0.1:9999/hook'))).toBeNull();
    expect(slackChannel.checkUrl(new URL('ftp://hooks.slack.com/'))).not.toBeNull();
  });
});
