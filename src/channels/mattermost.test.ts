import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import { describe, expect, it } from 'vitest';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { RunSnapshot, StoredEvent } from '../core/events.js';
import {
  MATTERMOST_MAX_TEXT_CHARS,
  classifyMattermost,
  escapeMattermost,
  mattermostBody,
  mattermostChannel,
} from './mattermost.js';
import { slackChannel } from './slack.js';

const run = (over: Partial<RunSnapshot> = {}) => runSnapshot({ ...CHECKOUT, ...over });
const finished = (over: Partial<RunSnapshot> = {}) => storedEvent({ type: 'test.finished', run: run(over) });
const channel = deliveryChannel({
  type: 'mattermost',
  name: 'Town square',
  url: 'https://mattermost.example.com/hooks/xxx-generatedkey-xxx',
});
const ctx = RENDER_CTX;

interface Body {
  text: string;
  attachments: {
    color: string;
    title: string;
    title_link?: string;
    text: string;
    fields: { value: string }[];
  }[];
}
const render = (event: StoredEvent): Body =>
  JSON.parse(mattermostChannel.render(event, channel, ctx).body) as Body;

describe('mattermost render', () => {
  it("posts Slack's body to the hook URL: for plain names, byte for byte what Slack gets", () => {
    const request = mattermostChannel.render(finished(), channel, ctx);
    expect(request.url).toBe(channel.url);
    expect(request.headers['Content-Type']).toBe('application/json');
    expect(request.body).toBe(slackChannel.render(finished(), { ...channel, type: 'slack' }, ctx).body);
    const body = render(finished());
    expect(body.text).toBe('<https://loadnotify.example.com/runs/42|Checkout: run #42 passed>');
    expect(body.attachments[0]).toMatchObject({
      color: 'good',
      title_link: 'https://loadnotify.example.com/runs/42',
    });
  });

  it('colours a failure danger', () => {
    expect(render(finished({ result: 'failed' })).attachments[0]?.color).toBe('danger');
  });

  it('makes @-mentions and Slack control sequences inert', () => {
    const body = render(finished({ load_test_name: '@channel <!here> @all & @alice' }));
    const raw = JSON.stringify(body);
    for (const mention of ['@channel', '@all', '@alice', '<!here>']) expect(raw).not.toContain(mention);
    expect(body.attachments[0]?.fields[0]?.value).toBe(
      '@\u200bchannel &lt;!here&gt; @\u200ball &amp; @\u200balice',
    );
    expect(escapeMattermost('a @ b, mail@x')).toBe('a @ b, mail@\u200bx');
  });

  it('stays within 16,383 characters, even when escaping lengthens the text', () => {
    const huge = '@a<'.repeat(20_000);
    const body = mattermostBody({
      title: huge,
      summary: huge,
      facts: [],
      color: 'danger',
      link: null,
    }) as unknown as Body;
    expect(body.text.length).toBeLessThanOrEqual(MATTERMOST_MAX_TEXT_CHARS);
    expect(body.text.endsWith('…')).toBe(true);
    expect(body.attachments[0]?.text.length).toBeLessThanOrEqual(MATTERMOST_MAX_TEXT_CHARS);
  });
});

const response = (status: number, body = '', headers: Record<string, string> = {}) => ({
  status,
  body,
  headers,
});
const appError = (id: string, status: number, message = 'failed') =>
  JSON.stringify({ id, message, detailed_error: '', request_id: 'r1', status_code: status });

describe('mattermost classify', () => {
  it('200 ok is delivered', () => {
    expect(classifyMattermost(response(200, 'ok'))).toEqual({ kind: 'delivered' });
  });

  it.each([
    [400, 'web.incoming_webhook.invalid.app_error'],
    [400, 'web.incoming_webhook.text.app_error'],
    [403, 'web.incoming_webhook.channel_locked.app_error'],
    [403, 'web.incoming_webhook.permissions.app_error'],
    [404, 'app.channel.get.existing.app_error'],
    [501, 'web.incoming_webhook.disabled.app_error'],
  ])('%i %s is permanent, named in the reason', (status, id) => {
    expect(classifyMattermost(response(status, appError(id, status, 'Nope.')))).toEqual({
      kind: 'permanent',
      reason: `HTTP ${status}: ${id}: Nope.`,
    });
  });

  it('429 is retried after Retry-After', () => {
    expect(classifyMattermost(response(429, 'limit exceeded', { 'Retry-After': '3' }))).toEqual({
      kind: 'retry',
      reason: 'HTTP 429: limit exceeded',
      afterMs: 3000,
    });
  });

  it.each([
    [500, appError('app.channel.get.find.app_error', 500)],
    [501, 'Not Implemented'],
    [502, '<html>Bad Gateway</html>'],
    [503, ''],
  ])('%i %j is retried', (status, body) => {
    expect(classifyMattermost(response(status, body)).kind).toBe('retry');
  });

  it('accepts any http(s) server', () => {
    expect(mattermostChannel.checkUrl(new URL(channel.url))).toBeNull();
    expect(mattermostChannel.checkUrl(new URL('http://127.0.0.1:8065/hooks/abc'))).toBeNull();
    expect(mattermostChannel.checkUrl(new URL('ftp://mattermost.example.com/hooks/abc'))).not.toBeNull();
  });
});
