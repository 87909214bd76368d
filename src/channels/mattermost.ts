/**
 * Mattermost incoming webhooks (spec/channel-formats.md): POST https://{server}/hooks/{key}
 * with the Slack-compatible body (slackBody): `text` and one attachment with the colour bar.
 * Success is 200 `ok`; a message holds at most 16,383 characters.
 *
 * Permanent or retried (Mattermost answers errors as {"id", "message", "status_code"}, see
 * HandleIncomingWebhook in mattermost/server):
 * - any 2xx is delivered;
 * - 400 (`web.incoming_webhook.invalid.app_error`: no such hook, it was deleted; or the body
 *   was refused), 401, 403 (the hook's channel is locked or its owner lost access), 404 (the
 *   hook's channel was deleted), 410 and 413 are permanent;
 * - 501 `web.incoming_webhook.disabled.app_error` (an admin switched incoming webhooks off)
 *   is permanent too: only a person can switch them back on, and the channel should say why;
 * - 429 (Mattermost's rate limiter, with Retry-After), other 5xx and anything else are retried.
 */
import { buildMessage } from '../core/message.js';
import type { Message } from '../core/message.js';
import type { ChannelType, Classification, ReceiverResponse } from './channel.js';
import { escapeSlack, slackBody } from './slack.js';
import { checkHttpUrl, classifyWithPermanent, jsonErrorReason, postJson } from './webhook.js';

export const MATTERMOST_MAX_TEXT_CHARS = 16_383;

/**
 * Slack's escaping, plus a zero-width space after `@` before a name: Mattermost, unlike
 * Slack, notifies on plain-text @channel, @all, @here and @username, so a test named
 * "@channel smoke" would otherwise wake the whole channel. It reads the same.
 */
export function escapeMattermost(text: string): string {
  return escapeSlack(text).replace(/@(?=[\p{L}\p{N}_])/gu, '@\u200b');
}

export function mattermostBody(message: Message): Record<string, unknown> {
  return slackBody(message, { maxTextChars: MATTERMOST_MAX_TEXT_CHARS, escape: escapeMattermost });
}

const PERMANENT_STATUSES = new Set([400, 401, 403, 404, 410, 413]);
const HOOKS_DISABLED = 'web.incoming_webhook.disabled.app_error';

function errorId(body: string): string | undefined {
  try {
    const id: unknown = (JSON.parse(body) as { id?: unknown } | null)?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

export function classifyMattermost(response: ReceiverResponse): Classification {
  if (errorId(response.body) === HOOKS_DISABLED && response.status >= 400) {
    return { kind: 'permanent', reason: jsonErrorReason(response) };
  }
  return classifyWithPermanent(response, PERMANENT_STATUSES);
}

export const mattermostChannel: ChannelType = {
  type: 'mattermost',
  label: 'Mattermost',
  description: 'A message in a Mattermost channel through an incoming webhook.',
  mark: 'M',
  urlHelp: {
    placeholder: 'https://mattermost.example.com/hooks/xxx-generatedkey-xxx',
    hint: 'In Mattermost, go to Integrations, Incoming Webhooks, add one for the channel and paste its URL.',
  },
  // Mattermost is self-hosted: its URL is any http(s) server's /hooks/{key}. The path is not
  // checked, so a reverse proxy may put the server under a prefix; the egress guard decides
  // what may be reached.
  checkUrl: checkHttpUrl,
  render(event, channel, ctx) {
    return postJson(channel.url, mattermostBody(buildMessage(event.data, ctx.publicUrl)));
  },
  classify: classifyMattermost,
};
