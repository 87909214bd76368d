/**
 * E-mail over SMTP (spec/channel-formats.md): one mail per event with a plain-text and an
 * HTML part built from the neutral message, every value HTML-escaped in the HTML part. The
 * finished mail threads under the started one: the started mail's Message-ID is stable per
 * run and channel, and the finished mail names it in In-Reply-To and References.
 *
 * k6 Cloud's custom e-mail: a subject template and an HTML template replace ours; the
 * plain-text part is then read out of the rendered HTML. Both render in the template workers,
 * like a webhook's body.
 */
import net from 'node:net';
import { Type } from 'typebox';
import { alertMessage, buildMessage, oneLine, truncateText } from '../core/message.js';
import type { Message, MessageColor, MessageFact } from '../core/message.js';
import type { EventData, StoredEvent } from '../core/events.js';
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
  TemplateJob,
  TemplateSource,
} from './channel.js';
import { templateScope } from './template-scope.js';
import {
  MAX_TEMPLATE_CHARS,
  TEMPLATE_ENGINES,
  TemplateError,
  type TemplateEngine,
} from './template-limits.js';
import { checkPlaintextAuth } from './email-auth.js';
import { escapeHtml } from '../core/html.js';

export const MAX_RECIPIENTS = 50;
/** A subject is one line; a template for one has no business being longer. */
export const MAX_SUBJECT_TEMPLATE_CHARS = 1000;
/** What is kept of a rendered subject (RFC 5322 advises lines under 78; clients show ~100). */
export const MAX_SUBJECT_CHARS = 250;

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
    template_engine: Type.Optional(Type.Union(TEMPLATE_ENGINES.map((e) => Type.Literal(e)))),
    subject_template: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SUBJECT_TEMPLATE_CHARS })),
    html_template: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TEMPLATE_CHARS })),
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
  template_engine?: TemplateEngine;
  subject_template?: string;
  html_template?: string;
}

const TEMPLATE_KEYS = ['subject_template', 'html_template'] as const;

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

/** The custom e-mail's templates, checked in a template worker when saved. */
function emailTemplates(c: Record<string, unknown>): TemplateSource[] {
  const config = c as unknown as EmailSettings;
  return TEMPLATE_KEYS.flatMap((key) => {
    const source = config[key];
    return source === undefined ? [] : [{ field: `config.${key}`, source, engine: config.template_engine }];
  });
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
  if (event.type === 'notification_channel.alert') return '[ALERT]';
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
  if (event.type === 'notification_channel.alert') return `[ALERT] ${alertMessage(event.alert).title}`;
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
  if (event.type === 'notification_channel.alert')
    return { 'Message-ID': `<loadnotify.alert-${event.alert.id}.channel-${channel.id}@${domain}>` };
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
  if (event.run === null) return message.facts;
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
    ...rows.map((f) => `${`${f.label}:`.padEnd(width)} ${f.value}${f.url ? ` <${f.url}>` : ''}`),
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
        `<tr><th align="left" style="padding:2px 12px 2px 0;color:#555">${e(f.label)}</th><td style="padding:2px 0">${f.url ? `<a href="${e(f.url)}">${e(f.value)}</a>` : e(f.value)}</td></tr>`,
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

/**
 * The custom templates' jobs (k6 Cloud's custom e-mail), or null for our own mail. Their
 * variables are a webhook template's (template-scope.ts): k6 Cloud's `test`, `user`, `event`
 * and `errors`, and the extended payload's fields and `payload`.
 */
function templateJobs(
  event: StoredEvent,
  channel: ChannelForDelivery,
  ctx: RenderContext,
): Record<string, TemplateJob> | null {
  // An operator alert goes in our own words: the templates are written for runs.
  if (event.data.type === 'notification_channel.alert') return null;
  const config = channel.config as unknown as EmailSettings;
  const jobs: Record<string, TemplateJob> = {};
  const scope = templateScope(event, channel, ctx);
  const engine = config.template_engine ?? 'liquid';
  if (config.subject_template !== undefined)
    jobs.subject = { source: config.subject_template, scope, engine };
  if (config.html_template !== undefined) {
    jobs.html = { source: config.html_template, scope, engine, html: true };
    // Its plain-text part, made in the worker too (html-to-text stays out of this thread).
    jobs.text = { source: config.html_template, scope, engine, html: true, text: true };
  }
  return Object.keys(jobs).length === 0 ? null : jobs;
}

/** A rendered template's output, which must have been rendered in a worker beforehand. */
function rendered(ctx: RenderContext, name: string): string {
  const output = ctx.templateOutputs?.[name];
  if (output === undefined)
    throw new TemplateError('the template was not rendered: templates render in the template workers');
  return output;
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
  // Its templates' variables (`test.status`) follow the channel's status_scheme.
  numbersStatuses: true,
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
      template_engine: {
        more: true,
        label: 'Template language',
        options: [
          { value: '', label: 'Liquid' },
          { value: 'jinja2', label: 'Jinja2 (k6 Cloud templates)' },
        ],
        hint: 'The language of the subject and HTML templates below.',
      },
      subject_template: {
        more: true,
        label: 'Subject template (optional)',
        placeholder: '[{{ test.result_text }}] {{ test.name }}',
        hint: 'One line. Left empty: loadnotify’s subject.',
      },
      html_template: {
        more: true,
        label: 'HTML template (optional)',
        multiline: true,
        placeholder: '<p>{{ test.name }}: {{ test.status_text }}</p>',
        hint: 'The mail’s HTML; its plain-text part is made from it. What {{ }} puts out is HTML-escaped for you (Liquid: | raw leaves your own markup as it is). Left empty: loadnotify’s mail.',
      },
    },
    secret: ['password'],
    // The server the login goes to, and whether it goes there encrypted.
    destination: ['host', 'port', 'security'],
    credentials: ['username', 'password'],
    check: checkEmailConfig,
    templates: emailTemplates,
  },
  urlFromConfig: smtpUrl,
  checkUrl(url) {
    return url.protocol === 'smtp:' || url.protocol === 'smtps:'
      ? null
      : `the address must start with smtp:// or smtps://, not ${url.protocol}//`;
  },
  templates: templateJobs,
  render(event, channel, ctx): RenderedMail {
    const settings = channel.config as unknown as EmailSettings;
    // An operator alert goes in our own words: the templates are written for runs.
    const config: EmailSettings =
      event.data.type === 'notification_channel.alert'
        ? { ...settings, subject_template: undefined, html_template: undefined }
        : settings;
    const message = buildMessage(event.data, ctx.publicUrl);
    const rows = facts(event.data, message);
    // A subject template that renders to nothing falls back to ours: a mail needs a subject.
    const customSubject =
      config.subject_template === undefined
        ? ''
        : truncateText(rendered(ctx, 'subject').replace(/\s+/g, ' ').trim(), MAX_SUBJECT_CHARS);
    const html = config.html_template === undefined ? htmlPart(message, rows) : rendered(ctx, 'html');
    return {
      kind: 'mail',
      url: channel.url,
      headers: {
        From: config.from,
        To: config.to.join(', '),
        Subject: customSubject || subject(event.data, channel),
        Date: ctx.now.toUTCString(),
        ...threading(event.data, channel, ctx),
        'Auto-Submitted': 'auto-generated',
        // Outlook and Exchange: no out-of-office replies to a notification.
        'X-Auto-Response-Suppress': 'All',
        'X-Loadnotify-Event': event.data.type,
      },
      body: config.html_template === undefined ? textPart(message, rows) : rendered(ctx, 'text'),
      html,
      envelope: { from: config.from, to: [...config.to] },
      security: config.security,
      auth: config.username ? { user: config.username, pass: config.password ?? '' } : null,
    };
  },
  classify: classifySmtp,
};
