/**
 * E-mail over SMTP (spec/channel-formats.md): one mail per event with a plain-text and an
 * HTML part built from the neutral message, every value HTML-escaped in the HTML part. The
 * finished mail threads under the started one: the started mail's Message-ID is stable per
 * run and channel, and the finished mail names it in In-Reply-To and References.
 */
import net from 'node:net';
import { Type } from 'typebox';
import { buildMessage, oneLine, truncateText } from '../core/message.js';
import type { Message, MessageColor, MessageFact } from '../core/message.js';
import type { EventData } from '../core/events.js';
import type {
  ChannelForDelivery,
  ChannelType,
  Classification,
  ConfigContext,
  ConfigProblem,
  MailSecurity,
  ReceiverResponse,
  RenderContext,
  RenderedMail,
} from './channel.js';
import { checkPlaintextAuth } from './email-auth.js';
import { escapeHtml } from './hipchat.js';

export const MAX_RECIPIENTS = 50;

export const EmailConfig = Type.Object(
  {
    // A host name, an IPv4 address or an IPv6 one (bracketed or not): nothing that could
    // smuggle a path, user or port into the address the egress check reads.
    host: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^(?:[A-Za-z0-9_.-]+|\\[?[0-9A-Fa-f:.]+\\]?)$',
    }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 587 }),
    security: Type.Union([Type.Literal('starttls'), Type.Literal('tls'), Type.Literal('none')], {
      default: 'starttls',
    }),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    from: Type.String({ minLength: 3, maxLength: 254 }),
    to: Type.Array(Type.String({ minLength: 3, maxLength: 254 }), {
      minItems: 1,
      maxItems: MAX_RECIPIENTS,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
);

interface EmailSettings {
  host: string;
  port: number;
  security: MailSecurity;
  username?: string;
  password?: string;
  from: string;
  to: string[];
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`, 'i');
// A bare address, as SMTP's MAIL FROM / RCPT TO take it: no display names, no comments, no
// quoted local parts. What reaches the header is exactly what reaches the envelope.
const ADDRESS = new RegExp(`^[a-z0-9.!#$%&'*+/=?^_\`{|}~-]{1,64}@${LABEL}(?:\\.${LABEL})+$`, 'i');

export function isMailAddress(value: string): boolean {
  return value.length <= 254 && ADDRESS.test(value);
}

function isHost(value: string): boolean {
  const bare = value.replace(/^\[(.*)\]$/, '$1');
  return net.isIP(bare) !== 0 || (!/^[0-9.]+$/.test(value) && HOST_NAME.test(value));
}

function checkEmailConfig(c: Record<string, unknown>, context: ConfigContext): ConfigProblem | null {
  const config = c as unknown as EmailSettings;
  if (!isHost(config.host))
    return { field: 'config.host', message: 'config.host must be a host name or an IP address' };
  if (!isMailAddress(config.from))
    return { field: 'config.from', message: 'config.from must be an e-mail address (name@example.com)' };
  const bad = config.to.findIndex((address) => !isMailAddress(address));
  if (bad !== -1)
    return {
      field: 'config.to',
      message: `config.to[${bad}] must be an e-mail address (name@example.com), not ${JSON.stringify(config.to[bad])}`,
    };
  if (config.password !== undefined && config.username === undefined)
    return { field: 'config.username', message: 'config.username is required when config.password is set' };
  if (config.username !== undefined && config.password === undefined)
    return { field: 'config.password', message: 'config.password is required when config.username is set' };
  return checkPlaintextAuth(config, context);
}

export function smtpUrl(config: Record<string, unknown>): string {
  const { host, port, security } = config as unknown as EmailSettings;
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const shown = net.isIPv6(bare) ? `[${bare}]` : host;
  return `${security === 'tls' ? 'smtps' : 'smtp'}://${shown}:${port}`;
}

type RunEvent = Extract<EventData, { run: object }>;

/** The tag at the start of the subject: what happened, readable in a list of subjects. */
export function subjectTag(event: EventData): string {
  if (event.type === 'test.notification_channel') return '[TEST]';
  if (event.type === 'test.started') return '[STARTED]';
  const { status, result } = event.run;
  if (status === 'finished')
    return result === 'passed' ? '[PASSED]' : result === 'failed' ? '[FAILED]' : '[FINISHED]';
  if (status === 'timed_out') return '[TIMED OUT]';
  return '[ABORTED]';
}

function subject(event: EventData, channel: ChannelForDelivery): string {
  if (event.type === 'test.notification_channel')
    return `[TEST] loadnotify test notification — ${oneLine(channel.name)}`;
  return `${subjectTag(event)} ${oneLine(event.run.load_test_name)} — run #${event.run.run_id}`;
}

/** The right side of our Message-IDs: the installation's public host. */
function idDomain(publicUrl: string): string {
  try {
    const host = new URL(publicUrl).hostname;
    return /^[a-z0-9.-]+$/i.test(host) ? host : 'loadnotify.invalid';
  } catch {
    return 'loadnotify.invalid';
  }
}

/** The started mail's Message-ID: the finished mail of the same run and channel refers to it. */
export function startedMessageId(runId: number, channelId: number, publicUrl: string): string {
  return `<loadnotify.run-${runId}.channel-${channelId}.started@${idDomain(publicUrl)}>`;
}

function threading(
  event: EventData,
  channel: ChannelForDelivery,
  ctx: RenderContext,
): Record<string, string> {
  const domain = idDomain(ctx.publicUrl);
  if (event.type === 'test.notification_channel')
    return { 'Message-ID': `<loadnotify.test-${ctx.webhookId}@${domain}>` };
  const started = startedMessageId(event.run.run_id, channel.id, ctx.publicUrl);
  if (event.type === 'test.started') return { 'Message-ID': started };
  return {
    'Message-ID': `<loadnotify.run-${event.run.run_id}.channel-${channel.id}.finished@${domain}>`,
    'In-Reply-To': started,
    References: started,
  };
}

/** The message's facts plus the run's times, which a mail has room for. */
function facts(event: EventData, message: Message): MessageFact[] {
  if (event.type === 'test.notification_channel') return message.facts;
  const { run } = event as RunEvent;
  const times: MessageFact[] = [{ label: 'Run', value: `#${run.run_id}` }];
  if (run.started_at) times.push({ label: 'Started', value: run.started_at });
  if (run.ended_at) times.push({ label: 'Ended', value: run.ended_at });
  return [...message.facts, ...times];
}

const FOOTER = 'Sent by loadnotify.';

function textPart(message: Message, rows: MessageFact[]): string {
  const width = Math.max(0, ...rows.map((f) => f.label.length)) + 1;
  return [
    message.title,
    '',
    message.summary,
    '',
    ...rows.map((f) => `${`${f.label}:`.padEnd(width)} ${f.value}`),
    ...(message.link ? ['', `${message.link.text}: ${message.link.url}`] : []),
    '',
    '-- ',
    FOOTER,
    '',
  ].join('\n');
}

const BAR: Record<MessageColor, string> = {
  good: '#2eb67d',
  warning: '#ecb22e',
  danger: '#e01e5a',
  neutral: '#9ea3a8',
};

function htmlPart(message: Message, rows: MessageFact[]): string {
  const e = escapeHtml;
  const cells = rows
    .map(
      (f) =>
        `<tr><th align="left" style="padding:2px 12px 2px 0;color:#555">${e(f.label)}</th><td style="padding:2px 0">${e(f.value)}</td></tr>`,
    )
    .join('\n');
  const link = message.link
    ? `<p style="margin:16px 0 0"><a href="${e(message.link.url)}">${e(message.link.text)}</a></p>`
    : '';
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${e(message.title)}</title></head>
<body style="font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;color:#222">
<div style="border-left:4px solid ${BAR[message.color]};padding:4px 0 4px 12px">
<h2 style="margin:0 0 8px;font-size:18px">${e(message.title)}</h2>
<p style="margin:0 0 12px">${e(message.summary)}</p>
<table cellspacing="0" cellpadding="0">
${cells}
</table>${link}
</div>
<p style="color:#888;font-size:12px">${e(FOOTER)}</p>
</body></html>
`;
}

const MAX_REASON_CHARS = 200;

/** "SMTP 550: 5.1.1 mailbox unavailable": the code once, then the server's words. */
export function smtpReason(response: ReceiverResponse): string {
  const text = response.body
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\d{3}(?:[ -]|$)/, '');
  const excerpt = truncateText(text, MAX_REASON_CHARS);
  return excerpt ? `SMTP ${response.status}: ${excerpt}` : `SMTP ${response.status}`;
}

/**
 * 2xx: accepted. 4xx: the server asks to try again later (greylisting, a full queue). 535
 * and the other 5xx: the server refuses for good; the same mail would be refused again.
 */
export function classifySmtp(response: ReceiverResponse): Classification {
  const { status } = response;
  const reason = smtpReason(response);
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 535 || status === 534 || status === 530)
    return {
      kind: 'permanent',
      reason: `${reason} (authentication failed: check config.username and config.password)`,
    };
  if (status >= 500 && status < 600 && /in reply to STARTTLS/i.test(response.body))
    return {
      kind: 'permanent',
      reason: `${reason} (the server does not offer STARTTLS: set config.security to 'tls' or 'none')`,
    };
  if (status >= 500 && status < 600) return { kind: 'permanent', reason };
  // 4xx, and replies SMTP does not define here: try again.
  return { kind: 'retry', reason };
}

export const emailChannel: ChannelType = {
  type: 'email',
  label: 'E-mail',
  description: 'A mail per run event through your SMTP server; a run’s end threads under its start.',
  mark: '@',
  config: {
    schema: EmailConfig,
    fields: {
      host: { label: 'SMTP server', placeholder: 'smtp.example.com' },
      port: {
        label: 'Port',
        placeholder: '587',
        hint: 'Left empty: 587. Usually 587 with STARTTLS, 465 with TLS.',
      },
      security: {
        label: 'Security',
        options: [
          { value: 'starttls', label: 'STARTTLS (required)' },
          { value: 'tls', label: 'TLS from the start (SMTPS)' },
          { value: 'none', label: 'None (plain text)' },
        ],
      },
      username: { label: 'Username', hint: 'Left empty: no login.' },
      password: {
        label: 'Password',
        hint: 'Write-only: never shown again. Left empty when editing: the saved one is kept.',
      },
      from: { label: 'From', placeholder: 'loadnotify@example.com' },
      to: {
        label: 'To',
        placeholder: 'ops@example.com, qa@example.com',
        hint: 'One to 50 addresses, separated by commas or new lines.',
      },
    },
    secret: ['password'],
    // The server the login goes to, and whether it goes there encrypted.
    destination: ['host', 'port', 'security'],
    credentials: ['username', 'password'],
    check: checkEmailConfig,
  },
  urlFromConfig: smtpUrl,
  checkUrl(url) {
    return url.protocol === 'smtp:' || url.protocol === 'smtps:'
      ? null
      : `the address must start with smtp:// or smtps://, not ${url.protocol}//`;
  },
  render(event, channel, ctx): RenderedMail {
    const config = channel.config as unknown as EmailSettings;
    const message = buildMessage(event.data, ctx.publicUrl);
    const rows = facts(event.data, message);
    return {
      kind: 'mail',
      url: channel.url,
      headers: {
        From: config.from,
        To: config.to.join(', '),
        Subject: subject(event.data, channel),
        Date: ctx.now.toUTCString(),
        ...threading(event.data, channel, ctx),
        'Auto-Submitted': 'auto-generated',
        // Outlook and Exchange: no out-of-office replies to a notification.
        'X-Auto-Response-Suppress': 'All',
        'X-Loadnotify-Event': event.data.type,
      },
      body: textPart(message, rows),
      html: htmlPart(message, rows),
      envelope: { from: config.from, to: [...config.to] },
      security: config.security,
      auth: config.username ? { user: config.username, pass: config.password ?? '' } : null,
    };
  },
  classify: classifySmtp,
};
