/**
 * HipChat API v2 room notifications (spec/channel-formats.md). The channel URL is the room's
 * "Send messages to this room" URL, auth_token included, as the LoadImpact document describes.
 * HipChat Cloud is gone; HipChat Server / Data Center speak the same API.
 */
import { buildMessage, truncateText } from '../core/message.js';
import type { Message, MessageColor } from '../core/message.js';
import type { ChannelType, Classification, ReceiverResponse } from './channel.js';
import { checkHttpUrl, classifyWithPermanent, postJson } from './webhook.js';
import { escapeHtml } from '../core/html.js';

export const HIPCHAT_MAX_MESSAGE_CHARS = 10_000;

const COLORS: Record<MessageColor, string> = {
  good: 'green',
  warning: 'yellow',
  danger: 'red',
  neutral: 'gray',
};

function html(message: Message): string {
  const title = escapeHtml(message.title);
  const heading = message.link ? `<a href="${escapeHtml(message.link.url)}">${title}</a>` : title;
  const facts = message.facts.map(
    (f) =>
      `<b>${escapeHtml(f.label)}:</b> ${f.url ? `<a href="${escapeHtml(f.url)}">${escapeHtml(f.value)}</a>` : escapeHtml(f.value)}`,
  );
  return [`<b>${heading}</b>`, escapeHtml(message.summary), ...facts].join('<br>');
}

function text(message: Message): string {
  const facts = message.facts.map((f) => `${f.label}: ${f.value}`);
  return [message.title, message.summary, ...facts, ...(message.link ? [message.link.url] : [])].join('\n');
}

/**
 * The HTML message, or, should it ever pass HipChat's 10,000-character limit, the plain-text
 * one truncated: cutting HTML could leave a tag open.
 */
export function hipchatBody(message: Message): Record<string, unknown> {
  const rich = html(message);
  const fits = rich.length <= HIPCHAT_MAX_MESSAGE_CHARS;
  return {
    message: fits ? rich : truncateText(text(message), HIPCHAT_MAX_MESSAGE_CHARS),
    message_format: fits ? 'html' : 'text',
    color: COLORS[message.color],
    // Only failures ping the room; starts and passes appear without a sound.
    notify: message.color === 'danger',
  };
}

/**
 * 400 (the message was refused: resending it cannot help), 401 (bad or revoked token), 403,
 * 404 (no such room) and 410 are permanent; 429 (flood control) and the rest follow the plain
 * HTTP rules: retried.
 */
const PERMANENT_STATUSES = new Set([400, 401, 403, 404, 410]);

export function classifyHipchat(response: ReceiverResponse): Classification {
  return classifyWithPermanent(response, PERMANENT_STATUSES);
}

export const hipchatChannel: ChannelType = {
  type: 'hipchat',
  label: 'HipChat',
  description: 'A room notification through a HipChat room integration URL.',
  mark: 'H',
  urlHelp: {
    placeholder: 'https://example.hipchat.com/v2/room/123/notification?auth_token=…',
    hint: 'In HipChat, add a "Build your own integration" to the room and paste its notification URL.',
  },
  checkUrl: checkHttpUrl,
  render(event, channel, ctx) {
    return postJson(channel.url, hipchatBody(buildMessage(event.data, ctx.publicUrl)));
  },
  classify: classifyHipchat,
};
