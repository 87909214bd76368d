import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { RunSnapshot, StoredEvent } from '../core/events.js';
import type { Message } from '../core/message.js';
import {
  GOOGLECHAT_MAX_BYTES,
  GOOGLECHAT_MAX_TEXT_CHARS,
  classifyGoogleChat,
  googleChatBody,
  googleChatChannel,
} from './googlechat.js';

const run = (over: Partial<RunSnapshot> = {}) => runSnapshot({ ...CHECKOUT, ...over });
const finished = (over: Partial<RunSnapshot> = {}) => storedEvent({ type: 'test.finished', run: run(over) });
const channel = deliveryChannel({
  type: 'googlechat',
  name: 'Space',
  url: 'https://chat.googleapis.com/v1/spaces/AAAA/messages?key=k&token=t',
});
const ctx = RENDER_CTX;

type Widget = {
  textParagraph?: { text: string };
  decoratedText?: { topLabel: string; text: string };
  buttonList?: { buttons: { text: string; onClick: { openLink: { url: string } } }[] };
};
interface ChatBody {
  text: string;
  cardsV2?: {
    cardId: string;
    card: { header: { title: string; subtitle?: string }; sections: { widgets: Widget[] }[] };
  }[];
}
const render = (event: StoredEvent): ChatBody =>
  JSON.parse(googleChatChannel.render(event, channel, ctx).body) as ChatBody;

describe('googlechat render', () => {
  it('posts text and one cardsV2 card: header, facts as decoratedText, a button to the run', () => {
    const request = googleChatChannel.render(finished(), channel, ctx);
    expect(request.url).toBe(channel.url);
    expect(request.headers['Content-Type']).toBe('application/json');
    const body = render(finished());
    expect(body.text).toBe('Checkout in Shop: run #42 passed after 5m 3s.');
    expect(body.cardsV2).toHaveLength(1);
    const { card } = body.cardsV2![0]!;
    expect(card.header.title).toBe('Checkout: run #42 passed');
    expect(card.sections).toHaveLength(1);
    const widgets = card.sections[0]!.widgets;
    expect(widgets[0]).toEqual({ textParagraph: { text: 'Checkout in Shop: run #42 passed after 5m 3s.' } });
    expect(
      widgets.filter((w) => w.decoratedText).map((w) => [w.decoratedText!.topLabel, w.decoratedText!.text]),
    ).toEqual([
      ['Test', 'Checkout'],
      ['Project', 'Shop'],
      ['Status', 'Finished'],
      ['Result', 'Passed'],
      ['Trigger', 'Manual'],
      ['Duration', '5m 3s'],
    ]);
    expect(widgets.at(-1)).toEqual({
      buttonList: {
        buttons: [
          { text: 'View run #42', onClick: { openLink: { url: 'https://loadnotify.example.com/runs/42' } } },
        ],
      },
    });
  });

  it('the Test Hook sends a card without a button', () => {
    const body = render(storedEvent({ type: 'test.notification_channel', run: null }));
    expect(body.cardsV2![0]!.card.header.title).toBe('Test notification from loadnotify');
    expect(JSON.stringify(body)).not.toContain('buttonList');
  });

  it('keeps user text inert: HTML-escaped in the card, no mention or link in the text', () => {
    const body = render(finished({ load_test_name: '<users/all> <b>x</b> & <https://evil.test|y>' }));
    expect(body.text).not.toContain('<users/all>');
    expect(body.text).not.toContain('<https://');
    expect(body.text.replace(/\u200b/g, '')).toContain('<users/all> <b>x</b> & <https://evil.test|y>');
    const widgets = body.cardsV2![0]!.card.sections[0]!.widgets;
    expect(widgets[1]?.decoratedText?.text).toBe(
      '&lt;users/all&gt; &lt;b&gt;x&lt;/b&gt; &amp; &lt;https://evil.test|y&gt;',
    );
    expect(widgets[0]?.textParagraph?.text).not.toContain('<b>');
  });
});

describe('googlechat size', () => {
  const text = (max: number) => fc.string({ maxLength: max, unit: 'binary' });
  const message = fc.record({
    title: text(300),
    summary: text(8000),
    facts: fc.array(fc.record({ label: text(50), value: text(3000) }), { maxLength: 30 }),
    color: fc.constantFrom('good', 'warning', 'danger', 'neutral') as fc.Arbitrary<Message['color']>,
    link: fc.option(fc.record({ url: fc.webUrl(), text: text(100) }), { nil: null }),
  });

  it('never exceeds 32,000 bytes, nor 4,096 characters of text', () => {
    fc.assert(
      fc.property(message, (m) => {
        const body = googleChatBody(m);
        expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(GOOGLECHAT_MAX_BYTES);
        expect(String(body.text).length).toBeLessThanOrEqual(GOOGLECHAT_MAX_TEXT_CHARS);
      }),
      { numRuns: 150 },
    );
  });

  it('drops facts from the end before dropping the card', () => {
    const facts = Array.from({ length: 20 }, (_, i) => ({ label: `F${i}`, value: '€'.repeat(1000) }));
    const body = googleChatBody({
      title: 'T',
      summary: 'S',
      facts,
      color: 'good',
      link: null,
    }) as unknown as ChatBody;
    const widgets = body.cardsV2![0]!.card.sections[0]!.widgets;
    const kept = widgets.filter((w) => w.decoratedText).map((w) => w.decoratedText!.topLabel);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(20);
    expect(kept).toEqual(facts.slice(0, kept.length).map((f) => f.label));
  });
});

const response = (status: number, body = '', headers: Record<string, string> = {}) => ({
  status,
  body,
  headers,
});

describe('googlechat classify', () => {
  it('200 with the created message is delivered', () => {
    expect(classifyGoogleChat(response(200, '{"name":"spaces/AAAA/messages/x"}'))).toEqual({
      kind: 'delivered',
    });
  });

  it.each([
    [400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'],
    [401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
    [403, 'PERMISSION_DENIED', 'The caller does not have permission'],
    [404, 'NOT_FOUND', 'Requested entity was not found.'],
  ])('%i %s is permanent, named in the reason', (status, code, message) => {
    const body = JSON.stringify({ error: { code: status, message, status: code } });
    expect(classifyGoogleChat(response(status, body))).toEqual({
      kind: 'permanent',
      reason: `HTTP ${status}: ${code}: ${message}`,
    });
  });

  it('429 RESOURCE_EXHAUSTED is retried, after Retry-After when sent', () => {
    const body =
      '{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}';
    expect(classifyGoogleChat(response(429, body))).toEqual({
      kind: 'retry',
      reason: 'HTTP 429: RESOURCE_EXHAUSTED: Resource has been exhausted',
    });
    expect(classifyGoogleChat(response(429, body, { 'retry-after': '5' }))).toMatchObject({ afterMs: 5000 });
  });

  it.each([500, 502, 503, 504])('%i is retried', (status) => {
    expect(classifyGoogleChat(response(status)).kind).toBe('retry');
  });

  it('accepts http and https URLs, like Slack, for proxies and test receivers', () => {
    expect(googleChatChannel.checkUrl(new URL(channel.url))).toBeNull();
    expect(googleChatChannel.checkUrl(new URL('http://127.0.0.1:9999/v1/spaces/A/messages'))).toBeNull();
    expect(googleChatChannel.checkUrl(new URL('ftp://chat.googleapis.com/'))).not.toBeNull();
  });
});
