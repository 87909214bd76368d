/**
 * Google Chat incoming webhooks (spec/channel-formats.md): POST to the space's webhook URL
 * (https://chat.googleapis.com/v1/spaces/{space}/messages?key=...&token=...) with a `text`
 * line for notifications and previews, and a `cardsV2` card: header, the facts as
 * decoratedText widgets and a button that opens the run.
 *
 * Permanent or retried (Google answers errors as {"error": {"code", "message", "status"}}):
 * - any 2xx (200 with the created message) is delivered;
 * - 400 (INVALID_ARGUMENT: the body is refused, resending it cannot help), 401 and 403 (the
 *   key or token in the URL is wrong or revoked, or the app was removed from the space),
 *   404 (the space is gone), 410 and 413 are permanent;
 * - 429 (RESOURCE_EXHAUSTED: 60 writes a minute per space) and 5xx are retried, after
 *   Retry-After when it is sent, as is anything undocumented (classifyHttp).
 */
import { buildMessage, truncateText } from '../core/message.js';
import type { Message } from '../core/message.js';
import type { ChannelType, Classification, ReceiverResponse } from './channel.js';
import { escapeHtml } from '../core/html.js';
import { checkHttpUrl, classifyWithPermanent, postJson } from './webhook.js';

/** The most a Chat message may weigh, text and cards together, as UTF-8 JSON. */
export const GOOGLECHAT_MAX_BYTES = 32_000;
/** Chat's limit on a message's `text`. */
export const GOOGLECHAT_MAX_TEXT_CHARS = 4096;

/**
 * `text` is Chat's own markup, where `<users/all>` notifies the whole space and `<url|text>`
 * makes a link; a zero-width space after every `<` keeps user text from forming either, and
 * reads the same. Card text is HTML instead and is HTML-escaped.
 */
export function escapeGoogleChatText(text: string): string {
  return text.replace(/</g, '<\u200b');
}

function card(message: Message, factCount: number): Record<string, unknown> {
  const widgets: Record<string, unknown>[] = [{ textParagraph: { text: escapeHtml(message.summary) } }];
  for (const fact of message.facts.slice(0, factCount)) {
    const text = fact.url
      ? `<a href="${escapeHtml(fact.url)}">${escapeHtml(fact.value)}</a>`
      : escapeHtml(fact.value);
    widgets.push({ decoratedText: { topLabel: fact.label, text, wrapText: true } });
  }
  if (message.link) {
    widgets.push({
      buttonList: {
        buttons: [{ text: message.link.text, onClick: { openLink: { url: message.link.url } } }],
      },
    });
  }
  return {
    cardId: 'loadnotify',
    // Header texts are plain text in Chat, not HTML: no escaping there.
    card: { header: { title: message.title, subtitle: 'loadnotify' }, sections: [{ widgets }] },
  };
}

const bytes = (body: unknown) => Buffer.byteLength(JSON.stringify(body), 'utf8');

/**
 * The body within 32,000 bytes: the whole card if it fits, else with facts dropped from the
 * end, else the text alone. 4,096 characters of text fit in any case: even escaped as \uXXXX
 * in JSON each takes at most 6 bytes.
 */
export function googleChatBody(message: Message): Record<string, unknown> {
  const text = truncateText(escapeGoogleChatText(message.summary), GOOGLECHAT_MAX_TEXT_CHARS);
  for (let n = message.facts.length; n >= 0; n--) {
    const body = { text, cardsV2: [card(message, n)] };
    if (bytes(body) <= GOOGLECHAT_MAX_BYTES) return body;
  }
  return { text };
}

const PERMANENT_STATUSES = new Set([400, 401, 403, 404, 410, 413]);

export function classifyGoogleChat(response: ReceiverResponse): Classification {
  return classifyWithPermanent(response, PERMANENT_STATUSES);
}

export const googleChatChannel: ChannelType = {
  type: 'googlechat',
  label: 'Google Chat',
  description: 'A card in a Google Chat space through an incoming webhook.',
  mark: 'GC',
  urlHelp: {
    placeholder: 'https://chat.googleapis.com/v1/spaces/AAAA…/messages?key=…&token=…',
    hint: "In Google Chat, open the space's Apps & integrations, add a webhook and paste its URL.",
  },
  // Production URLs are https://chat.googleapis.com/...; like Slack, any http(s) URL is
  // accepted (proxies, local test receivers) and the egress guard decides what may be reached.
  checkUrl: checkHttpUrl,
  render(event, channel, ctx) {
    return postJson(channel.url, googleChatBody(buildMessage(event.data, ctx.publicUrl)));
  },
  classify: classifyGoogleChat,
};
