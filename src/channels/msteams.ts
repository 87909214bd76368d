/**
 * Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received",
 * spec/channel-formats.md): one Adaptive Card 1.4 in a message attachment. The URL is the
 * opaque, signed workflow URL Teams shows; Office 365 connector URLs are retired.
 *
 * Permanent or retried (the workflow runs on Azure Logic Apps, which answers errors as
 * {"error": {"code", "message"}}):
 * - any 2xx (Teams answers 202 Accepted) is delivered;
 * - 400 (a card or body the workflow refuses: resending it cannot help), 401 and 403 (a wrong
 *   or revoked signature in the URL), 404 (the workflow was deleted), 410 and 413 (too large)
 *   are permanent;
 * - 429 (Logic Apps throttling) and 5xx are retried, after Retry-After when it is sent, and so
 *   is anything else undocumented (classifyHttp).
 */
import { buildMessage } from '../core/message.js';
import type { Message, MessageColor } from '../core/message.js';
import type { ChannelType, Classification, ReceiverResponse } from './channel.js';
import { checkHttpUrl, classifyWithPermanent, postJson } from './webhook.js';

/** Adaptive Card text colours: Good is green, Attention red; Default follows the theme. */
const COLORS: Record<MessageColor, string> = {
  good: 'Good',
  warning: 'Warning',
  danger: 'Attention',
  neutral: 'Default',
};

/**
 * The card. Text goes in as plain text: Teams renders only a small Markdown subset in
 * TextBlocks and facts, and pings only through explicit `<at>` mention entities, which we
 * never send, so a test name cannot notify anyone.
 */
export function adaptiveCard(message: Message): Record<string, unknown> {
  const body: Record<string, unknown>[] = [
    {
      type: 'TextBlock',
      text: message.title,
      size: 'Medium',
      weight: 'Bolder',
      color: COLORS[message.color],
      wrap: true,
    },
    { type: 'TextBlock', text: message.summary, wrap: true, isSubtle: true },
  ];
  // The run's page, then each linked fact (commit, pull request, CI job) as a button of its own.
  const actions = [
    ...(message.link ? [{ type: 'Action.OpenUrl', title: message.link.text, url: message.link.url }] : []),
    ...message.facts.flatMap((f) =>
      f.url ? [{ type: 'Action.OpenUrl', title: `${f.label} ${f.value}`, url: f.url }] : [],
    ),
  ];
  if (message.facts.length) {
    body.push({ type: 'FactSet', facts: message.facts.map((f) => ({ title: f.label, value: f.value })) });
  }
  return {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body,
    ...(actions.length ? { actions } : {}),
    // Without this Teams draws the card at a fixed narrow width and long facts wrap early.
    msteams: { width: 'Full' },
  };
}

export function msteamsBody(message: Message): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: adaptiveCard(message),
      },
    ],
  };
}

const PERMANENT_STATUSES = new Set([400, 401, 403, 404, 410, 413]);

export function classifyMsteams(response: ReceiverResponse): Classification {
  return classifyWithPermanent(response, PERMANENT_STATUSES);
}

export const msteamsChannel: ChannelType = {
  type: 'msteams',
  label: 'Microsoft Teams',
  description: 'An Adaptive Card in a Teams channel through a Workflows webhook.',
  mark: 'T',
  urlHelp: {
    placeholder: 'https://….logic.azure.com/workflows/…/triggers/manual/paths/invoke?…&sig=…',
    hint: 'In Teams, open the channel\'s Workflows, choose "Post to a channel when a webhook request is received" and paste the URL it shows. Office 365 connector URLs no longer work.',
  },
  // Workflow URLs are https on *.logic.azure.com or *.powerplatform.com, and Microsoft has
  // moved them before; like Slack, any http(s) URL is accepted (self-hosted relays, local
  // test receivers) and the egress guard decides what may be reached.
  checkUrl: checkHttpUrl,
  render(event, channel, ctx) {
    return postJson(channel.url, msteamsBody(buildMessage(event.data, ctx.publicUrl)));
  },
  classify: classifyMsteams,
};
