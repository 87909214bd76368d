/**
 * Slack incoming webhooks (spec/channel-formats.md): `text` always, as the notification
 * preview and fallback, plus one legacy attachment, the only Slack format with a colour bar.
 * Mattermost and Rocket.Chat accept the same body.
 */
import { buildMessage, truncateText } from '../core/message.js';
import type { Message, MessageColor } from '../core/message.js';
import type { ChannelType, Classification, ReceiverResponse } from './channel.js';
import { checkHttpUrl, classifyHttp, postJson, responseReason, retryWith } from './webhook.js';

export const SLACK_MAX_TEXT_CHARS = 40_000;

/** Slack's control sequences (`<!channel>`, `<@U123>`, links) start with `<`; these three are all it asks to escape. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A URL inside `<url|text>` must not contain the characters that end or split the link. */
function linkUrl(url: string): string {
  return url.replace(/[|<> ]/g, (c) => encodeURIComponent(c));
}

/** `<url|text>`, the text escaped. */
export function slackLink(url: string, text: string): string {
  return `<${linkUrl(url)}|${escapeSlack(text)}>`;
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

export interface SlackStyle {
  /** The service's limit on `text` (and attachment text). */
  maxTextChars: number;
  /** Makes user text inert in the service's markup: escapeSlack, or a stricter one. */
  escape: (text: string) => string;
}

/**
 * The Slack-compatible body: `text` (the heading, linked to the run) and one legacy attachment
 * with the colour bar, summary and facts. Mattermost renders the same body with its own limit
 * and escaping, so both are parameters.
 */
export function slackBody(message: Message, style: SlackStyle): Record<string, unknown> {
  const { escape, maxTextChars } = style;
  const title = escape(message.title);
  const heading = message.link ? `<${linkUrl(message.link.url)}|${title}>` : title;
  const summary = truncateText(escape(message.summary), maxTextChars);
  const attachment = {
    color: COLORS[message.color],
    fallback: summary,
    title,
    ...(message.link ? { title_link: message.link.url } : {}),
    text: summary,
    fields: message.facts.map((fact) => ({
      title: escape(fact.label),
      value: fact.url ? `<${linkUrl(fact.url)}|${escape(fact.value)}>` : escape(fact.value),
      short: fact.value.length <= SHORT_FIELD_CHARS,
    })),
    footer: 'loadnotify',
  };
  return { text: truncateText(heading, maxTextChars), attachments: [attachment] };
}

export const slackChannel: ChannelType = {
  type: 'slack',
  label: 'Slack',
  description: 'A message in a Slack channel through an Incoming WebHook.',
  mark: '#',
  urlHelp: {
    placeholder: 'https://hooks.slack.com/services/T000/B000/XXXX',
    hint: 'In Slack, add the Incoming WebHook app, choose a channel and paste the WebHook URL it gives you.',
  },
  // Slack's own URLs are https; http is accepted for self-hosted Slack-compatible services
  // and local test receivers. Whether the host may be reached is the egress guard's call.
  checkUrl: checkHttpUrl,
  render(event, channel, ctx) {
    const message = buildMessage(event.data, ctx.publicUrl);
    return postJson(
      channel.url,
      slackBody(message, { maxTextChars: SLACK_MAX_TEXT_CHARS, escape: escapeSlack }),
    );
  },
  classify: classifySlack,
};
