import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { RunSnapshot, StoredEvent } from '../core/events.js';
import type { Message } from '../core/message.js';
import type { RunResult, RunStatus } from '../core/run-status.js';
import {
  DISCORD_LIMITS,
  classifyDiscord,
  discordChannel,
  discordEmbed,
  discordRetryAfterMs,
  escapeDiscord,
} from './discord.js';

const run = (over: Partial<RunSnapshot> = {}) => runSnapshot({ ...CHECKOUT, ...over });
const finished = (over: Partial<RunSnapshot> = {}) => storedEvent({ type: 'test.finished', run: run(over) });
const channel = deliveryChannel({
  type: 'discord',
  name: 'Alerts',
  url: 'https://discord.com/api/webhooks/123456789012345678/tok-en',
});
const ctx = RENDER_CTX;

interface Embed {
  title: string;
  url?: string;
  description?: string;
  color: number;
  fields: { name: string; value: string; inline: boolean }[];
  footer: { text: string };
}
interface DiscordBody {
  content?: string;
  embeds: Embed[];
  allowed_mentions: { parse: string[] };
}
const render = (event: StoredEvent): DiscordBody =>
  JSON.parse(discordChannel.render(event, channel, ctx).body) as DiscordBody;
const embed = (event: StoredEvent) => render(event).embeds[0]!;

/** What Discord counts towards the 6,000 characters of a message's embeds. */
const embedChars = (e: Embed) =>
  e.title.length +
  (e.description?.length ?? 0) +
  e.fields.reduce((n, f) => n + f.name.length + f.value.length, 0) +
  e.footer.text.length;

describe('discord render', () => {
  it('posts one embed and pings nobody', () => {
    const request = discordChannel.render(finished(), channel, ctx);
    expect(request.method).toBe('POST');
    expect(request.url).toBe(channel.url);
    expect(request.headers['Content-Type']).toBe('application/json');
    const body = render(finished());
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.embeds).toHaveLength(1);
    expect(body.embeds[0]).toEqual({
      title: 'Checkout: run #42 passed',
      url: 'https://loadnotify.example.com/runs/42',
      description: 'Checkout in Shop: run #42 passed after 5m 3s.',
      color: 0x2eb886,
      fields: [
        { name: 'Test', value: 'Checkout', inline: true },
        { name: 'Project', value: 'Shop', inline: true },
        { name: 'Status', value: 'Finished', inline: true },
        { name: 'Result', value: 'Passed', inline: true },
        { name: 'Trigger', value: 'Manual', inline: true },
        { name: 'Duration', value: '5m 3s', inline: true },
      ],
      footer: { text: 'loadnotify' },
    });
  });

  it.each([
    ['finished', 'passed', 0x2eb886],
    ['finished', 'failed', 0xe01e5a],
    ['timed_out', null, 0xe01e5a],
    ['aborted_by_threshold', 'failed', 0xe01e5a],
  ] as const)('colours %s/%s as the integer %i', (status: RunStatus, result: RunResult | null, color) => {
    expect(embed(finished({ status, result })).color).toBe(color);
  });

  it('a start gets the neutral grey', () => {
    const started = storedEvent({ type: 'test.started', run: run({ status: 'running', result: null }) });
    const color = embed(started).color;
    expect(Number.isInteger(color)).toBe(true);
    expect([0x2eb886, 0xe01e5a]).not.toContain(color);
  });

  it('the Test Hook sends an embed without a link or fields', () => {
    const e = embed(storedEvent({ type: 'test.notification_channel', run: null }));
    expect(e.title).toBe('Test notification from loadnotify');
    expect(e.url).toBeUndefined();
    expect(e.fields).toEqual([]);
  });

  it('escapes mentions, Markdown and disguised links in user text', () => {
    const e = embed(finished({ load_test_name: '@everyone <@123> **big** [x](https://evil.test) `a_b`' }));
    const raw = JSON.stringify(e);
    expect(raw).not.toContain('@everyone');
    expect(e.title).toBe(
      '@\u200beveryone \\<@123\\> \\*\\*big\\*\\* \\[x\\]\\(https://evil.test\\) \\`a\\_b\\`: run #42 passed',
    );
    expect(e.fields[0]?.value).toContain('\\<@123\\>');
  });

  it('escapes block syntax at the start of a line only', () => {
    expect(escapeDiscord('# heading')).toBe('\\# heading');
    expect(escapeDiscord('- item\n> quote\n1. one')).toBe('\\- item\n\\> quote\n1\\. one');
    expect(escapeDiscord('api-test #3 v1.2')).toBe('api-test #3 v1.2');
    expect(escapeDiscord('@here and @heretic')).toBe('@\u200bhere and @\u200bheretic');
  });
});

describe('discord limits', () => {
  const text = (max: number) => fc.string({ maxLength: max, unit: 'binary' });
  const message = fc.record({
    title: text(2000),
    summary: text(20_000),
    facts: fc.array(fc.record({ label: text(600), value: text(3000) }), { maxLength: 40 }),
    color: fc.constantFrom('good', 'warning', 'danger', 'neutral') as fc.Arbitrary<Message['color']>,
    link: fc.option(fc.record({ url: fc.webUrl(), text: text(100) }), { nil: null }),
  });

  it('every embed stays within every documented limit', () => {
    fc.assert(
      fc.property(message, (m) => {
        const e = discordEmbed(m);
        expect(e.title.length).toBeGreaterThan(0);
        expect(e.title.length).toBeLessThanOrEqual(DISCORD_LIMITS.title);
        if (e.description !== undefined) {
          expect(e.description.length).toBeGreaterThan(0);
          expect(e.description.length).toBeLessThanOrEqual(DISCORD_LIMITS.description);
        }
        expect(e.fields.length).toBeLessThanOrEqual(DISCORD_LIMITS.fields);
        for (const f of e.fields) {
          expect(f.name.length).toBeGreaterThan(0);
          expect(f.name.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldName);
          expect(f.value.length).toBeGreaterThan(0);
          expect(f.value.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldValue);
        }
        expect(embedChars(e)).toBeLessThanOrEqual(DISCORD_LIMITS.total);
        expect(Number.isInteger(e.color)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps every fact of a normal run and marks cuts with an ellipsis', () => {
    const long: Message = {
      title: 'x'.repeat(1000),
      summary: 'y'.repeat(10_000),
      facts: [{ label: 'Test', value: 'z'.repeat(5000) }],
      color: 'danger',
      link: null,
    };
    const e = discordEmbed(long);
    expect(e.title).toHaveLength(256);
    expect(e.title.endsWith('…')).toBe(true);
    expect(e.fields[0]?.value).toHaveLength(1024);
    expect(e.description).toHaveLength(4096);
  });

  it('shortens the description first to stay within 6,000 in all', () => {
    const facts = Array.from({ length: 5 }, (_, i) => ({ label: `Fact${i}`, value: 'v'.repeat(2000) }));
    const e = discordEmbed({
      title: 't'.repeat(300),
      summary: 's'.repeat(5000),
      facts,
      color: 'good',
      link: null,
    });
    expect(e.fields).toHaveLength(5);
    expect(e.description).toHaveLength(6000 - 256 - 5 * (5 + 1024) - 'loadnotify'.length);
    expect(e.description?.endsWith('…')).toBe(true);
  });
});

const response = (status: number, body = '', headers: Record<string, string> = {}) => ({
  status,
  body,
  headers,
});

describe('discord classify', () => {
  it.each([200, 204])('%i is delivered', (status) => {
    expect(classifyDiscord(response(status))).toEqual({ kind: 'delivered' });
  });

  it.each([
    [400, '{"message": "Cannot send an empty message", "code": 50006}', 'Cannot send an empty message'],
    [401, '{"message": "Invalid Webhook Token", "code": 50027}', 'Invalid Webhook Token'],
    [403, '{"message": "Missing Permissions", "code": 50013}', 'Missing Permissions'],
    [404, '{"message": "Unknown Webhook", "code": 10015}', 'Unknown Webhook'],
    [413, 'request entity too large', 'request entity too large'],
  ])('%i is permanent, with the message as reason', (status, body, reason) => {
    expect(classifyDiscord(response(status, body))).toEqual({
      kind: 'permanent',
      reason: `HTTP ${status}: ${reason}`,
    });
  });

  it('429 waits for the body retry_after, in float seconds', () => {
    const body = '{"message": "You are being rate limited.", "retry_after": 0.25, "global": false}';
    expect(classifyDiscord(response(429, body, { 'Retry-After': '1' }))).toEqual({
      kind: 'retry',
      reason: 'HTTP 429: You are being rate limited.',
      afterMs: 250,
    });
    expect(classifyDiscord(response(429, '{"retry_after": 64.57}'))).toMatchObject({ afterMs: 64_570 });
  });

  it('429 falls back to Retry-After without a usable body', () => {
    expect(discordRetryAfterMs(response(429, '<html>1015</html>', { 'retry-after': '30' }))).toBe(30_000);
    expect(discordRetryAfterMs(response(429, '{"retry_after": "soon"}', { 'retry-after': '2' }))).toBe(2000);
    expect(discordRetryAfterMs(response(429, '{}'))).toBeUndefined();
    expect(classifyDiscord(response(429, 'slow down'))).toEqual({
      kind: 'retry',
      reason: 'HTTP 429: slow down',
    });
  });

  it('believes the header when the body looks like milliseconds (old API versions)', () => {
    expect(discordRetryAfterMs(response(429, '{"retry_after": 6457}', { 'retry-after': '7' }))).toBe(7000);
  });

  it.each([500, 502, 503, 504])('%i is retried', (status) => {
    expect(classifyDiscord(response(status)).kind).toBe('retry');
  });

  it('accepts http and https URLs only', () => {
    expect(discordChannel.checkUrl(new URL(channel.url))).toBeNull();
    expect(discordChannel.checkUrl(new URL('http://127.0.0.1:9999/api/webhooks/1/t'))).toBeNull();
    expect(discordChannel.checkUrl(new URL('ftp://discord.com/'))).not.toBeNull();
  });
});
