/**
 * Discord webhooks (spec/channel-formats.md): POST /api/webhooks/{id}/{token} with one embed,
 * coloured by outcome, and `allowed_mentions: {"parse": []}` so nothing in a message pings.
 *
 * Permanent or retried (Discord answers errors as {"message", "code"}):
 * - any 2xx (204, or 200 with ?wait=true) is delivered;
 * - 400 (Discord refused the body: resending it cannot help), 401 (invalid webhook token),
 *   403 (the webhook may not post there), 404 (unknown webhook: it was deleted), 410 and 413
 *   are permanent;
 * - 429 is retried no earlier than Discord asks (see discordRetryAfterMs); 5xx and anything
 *   undocumented are retried (classifyHttp).
 */
import { retryAfterFromHeaders } from '../core/backoff.js';
import { buildMessage, truncateText } from '../core/message.js';
import type { Message, MessageColor } from '../core/message.js';
import type { ChannelType, Classification, ReceiverResponse } from './channel.js';
import { checkHttpUrl, classifyWithPermanent, jsonErrorReason, postJson } from './webhook.js';

/** Discord's documented embed limits (characters). */
export const DISCORD_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  /** Title, description, field names and values, footer and author of all embeds together. */
  total: 6000,
} as const;

const COLORS: Record<MessageColor, number> = {
  good: 0x2eb886,
  warning: 0xecb22e,
  danger: 0xe01e5a,
  neutral: 0x9ea3a8,
};

const FOOTER = 'loadnotify';
/** Facts up to this long sit side by side (Discord's inline fields, three to a row). */
const INLINE_FIELD_CHARS = 40;

/**
 * Makes user text render as typed: a backslash before Discord's Markdown characters (Discord
 * drops a backslash before any punctuation), block syntax escaped at line starts, and a
 * zero-width space in @everyone / @here. `allowed_mentions` already stops every ping; this
 * keeps `<@123>`, `**x**` or `[link](url)` in a test name from rendering as a mention,
 * formatting or a disguised link.
 */
export function escapeDiscord(text: string): string {
  return text
    .replace(/[\\*_~`|<>[\]()]/g, '\\$&')
    .replace(/^(\s*)([#\-+])/gm, '$1\\$2')
    .replace(/^(\s*\d+)\./gm, '$1\\.')
    .replace(/@(everyone|here)/g, '@\u200b$1');
}

interface Embed {
  title: string;
  url?: string;
  description?: string;
  color: number;
  fields: { name: string; value: string; inline: boolean }[];
  footer: { text: string };
}

function embedChars(embed: Embed): number {
  const fields = embed.fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  return embed.title.length + (embed.description?.length ?? 0) + fields + embed.footer.text.length;
}

/**
 * The embed, within every per-item limit, then within the 6,000-character total: the
 * description (the summary, which the title and facts repeat) gives way first, then facts from
 * the end. Discord refuses empty field names and values, so they get a dash.
 * Lengths are counted in UTF-16 units, never fewer than Discord's characters.
 */
export function discordEmbed(message: Message): Embed {
  const cut = (text: string, max: number) => truncateText(escapeDiscord(text), max) || '-';
  const embed: Embed = {
    title: cut(message.title, DISCORD_LIMITS.title),
    ...(message.link ? { url: message.link.url } : {}),
    description: truncateText(escapeDiscord(message.summary), DISCORD_LIMITS.description),
    color: COLORS[message.color],
    fields: message.facts.slice(0, DISCORD_LIMITS.fields).map((f) => ({
      name: cut(f.label, DISCORD_LIMITS.fieldName),
      // A fact with a link (a commit, a CI job) is Discord's masked link; the URL's own ( ) < > escaped.
      value: f.url
        ? `[${cut(f.value, 200)}](${f.url.replace(/[()<> ]/g, (c) => encodeURIComponent(c))})`
        : cut(f.value, DISCORD_LIMITS.fieldValue),
      inline: f.value.length <= INLINE_FIELD_CHARS,
    })),
    footer: { text: FOOTER },
  };
  const over = embedChars(embed) - DISCORD_LIMITS.total;
  if (over > 0 && embed.description) {
    embed.description = truncateText(embed.description, Math.max(0, embed.description.length - over));
  }
  // Discord refuses an empty description; without one the embed is still valid.
  if (!embed.description) delete embed.description;
  while (embedChars(embed) > DISCORD_LIMITS.total && embed.fields.length) embed.fields.pop();
  return embed;
}

export function discordBody(message: Message): Record<string, unknown> {
  return { embeds: [discordEmbed(message)], allowed_mentions: { parse: [] } };
}

/**
 * The wait a 429 asks for. Discord sends it twice: `retry_after` in the JSON body (float
 * seconds, precise) and Retry-After (whole seconds, rounded up). The body is preferred; but
 * old API versions sent `retry_after` in milliseconds (discord-api-docs#4722), so when it
 * exceeds the header by more than the rounding, the header is believed instead.
 */
export function discordRetryAfterMs(response: ReceiverResponse): number | undefined {
  const header = retryAfterFromHeaders(response.headers, new Date());
  let body: number | undefined;
  try {
    const value: unknown = (JSON.parse(response.body) as { retry_after?: unknown } | null)?.retry_after;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) body = Math.ceil(value * 1000);
  } catch {
    // not JSON (a proxy's page): only the header counts
  }
  if (body === undefined) return header;
  if (header !== undefined && body > header + 1000) return header;
  return body;
}

const PERMANENT_STATUSES = new Set([400, 401, 403, 404, 410, 413]);

export function classifyDiscord(response: ReceiverResponse): Classification {
  if (response.status === 429) {
    const reason = jsonErrorReason(response);
    const afterMs = discordRetryAfterMs(response);
    return afterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, afterMs };
  }
  return classifyWithPermanent(response, PERMANENT_STATUSES);
}

export const discordChannel: ChannelType = {
  type: 'discord',
  label: 'Discord',
  description: 'An embed in a Discord channel through a channel webhook.',
  mark: 'D',
  urlHelp: {
    placeholder: 'https://discord.com/api/webhooks/123456789012345678/…',
    hint: 'In Discord, open the channel settings, Integrations, Webhooks, create one and copy its URL.',
  },
  // Discord's URLs are https://discord.com/api/webhooks/...; like Slack, any http(s) URL is
  // accepted (Discord-compatible services, local test receivers) and the egress guard decides
  // what may be reached.
  checkUrl: checkHttpUrl,
  render(event, channel, ctx) {
    return postJson(channel.url, discordBody(buildMessage(event.data, ctx.publicUrl)));
  },
  classify: classifyDiscord,
};
