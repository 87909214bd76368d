/**
 * Slack incoming webhooks (spec/channel-formats.md): `text` always, as the notification
 * preview and fallback, plus one legacy attachment, the only Slack format with a colour bar.
 * Mattermost and Rocket.Chat accept the same body.
 */
import { buildMessage, truncateText } from '../core/message.js';
import type { MessageColor } from '../core/message.js';
import type { ChannelType, Classification, ReceiverResponse } from './channel.js';
import { PRODUCT, checkHttpUrl, classifyHttp, responseReason, retryWith } from './webhook.js';

export const SLACK_MAX_TEXT_CHARS = 40_000;

/** Slack's control sequences (`<!channel>`, `<@U123>`, links) start with `<`; these three are all it asks to escape. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `<url|text>`; the URL must not contain the characters that end or split the link. */
export function slackLink(url: string, text: string): string {
  const safeUrl = url.replace(/[|<> ]/g, (c) => encodeURIComponent(c));
  return `<${safeUrl}|${escapeSlack(text)}>`;
}

const COLORS: Record<MessageColor, string> = {
  good: 'good',
  warning: 'warning',
  danger: 'danger',
  // Slack has no named grey; a hex close to its default bar keeps every message one shape.
  neutral: '#9ea3a8',
};

/** Facts longer than this get a full-width field, so long test names do not wrap in a half column. */
const SHORT_FIELD_CHARS = 40;

/** Error bodies that are permanent whatever the status they come with. */
const PERMANENT_BODIES = new Set(['invalid_token', 'no_service', 'no_team', 'team_disabled']);
/** Error bodies that mean "try again later", even on a 400. */
const TRANSIENT_BODIES = new Set([
  'rollup_error',
  'ratelimited',
  'rate_limited',
  'request_timeout',
  'service_unavailable',
  'internal_error',
  'fatal_error',
]);
/** Statuses Slack uses for a hook or channel that will not come back (with the reason in the body). */
const PERMANENT_STATUSES = new Set([400, 403, 404, 410]);

export function classifySlack(response: ReceiverResponse): Classification {
  if (response.status >= 200 && response.status < 300) return { kind: 'delivered' };
  const body = response.body.trim();
  const reason = responseReason(response);
  if (TRANSIENT_BODIES.has(body)) return retryWith(response, reason);
  if (PERMANENT_BODIES.has(body)) return { kind: 'permanent', reason };
  if (PERMANENT_STATUSES.has(response.status)) return { kind: 'permanent', reason };
  // 429 (with Retry-After), 5xx and anything undocumented: retried.
  return classifyHttp(response);
}

export const slackChannel: ChannelType = {
  type: 'slack',
  label: 'Slack',
  // Slack's own URLs are https; http is accepted for self-hosted Slack-compatible services
  // and local test receivers. Whether the host may be reached is the egress guard's call.
  checkUrl: checkHttpUrl,
  render(event, channel, ctx) {
    const message = buildMessage(event.data, ctx.publicUrl);
    const heading = message.link ? slackLink(message.link.url, message.title) : escapeSlack(message.title);
    const summary = truncateText(escapeSlack(message.summary), SLACK_MAX_TEXT_CHARS);
    const attachment = {
      color: COLORS[message.color],
      fallback: summary,
      title: escapeSlack(message.title),
      ...(message.link ? { title_link: message.link.url } : {}),
      text: summary,
      fields: message.facts.map((fact) => ({
        title: escapeSlack(fact.label),
        value: escapeSlack(fact.value),
        short: fact.value.length <= SHORT_FIELD_CHARS,
      })),
      footer: 'loadnotify',
    };
    return {
      method: 'POST',
      url: channel.url,
      headers: { 'Content-Type': 'application/json', 'User-Agent': PRODUCT },
      body: JSON.stringify({ text: truncateText(heading, SLACK_MAX_TEXT_CHARS), attachments: [attachment] }),
    };
  },
  classify: classifySlack,
};
