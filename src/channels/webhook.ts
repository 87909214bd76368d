/**
 * The generic webhook of the k6 Cloud / LoadImpact documents: their JSON body and headers,
 * byte for byte. Also home of the plain HTTP reading of an answer, which the chat channels
 * fall back to for answers their services do not document.
 */
import { retryAfterFromHeaders } from '../core/backoff.js';
import { truncateText } from '../core/message.js';
import { Type } from 'typebox';
import type { StoredEvent } from '../core/events.js';
import { signatureHeader } from '../core/signing.js';
import { documentedPayload, extendedPayload, PAYLOAD_VERSIONS } from '../core/webhook-payload.js';
import type {
  ChannelForDelivery,
  ChannelType,
  Classification,
  ConfigProblem,
  ReceiverResponse,
  RenderContext,
  RenderedRequest,
  SigningSecret,
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

/** Product token for User-Agent headers. */
export const PRODUCT = 'loadnotify/0.1';
/** The documents promise receivers that the User-Agent starts with LoadImpactWebHook. */
export const WEBHOOK_USER_AGENT = `LoadImpactWebHook (${PRODUCT})`;
/** k6 Cloud's later webhooks sent exactly this. */
export const K6CLOUD_USER_AGENT = 'K6CloudWebHook';

/**
 * Which generation of k6 Cloud's headers a webhook sends: the documents' X-LoadImpact-ID,
 * X-LoadImpact-Event and LoadImpactWebHook (the default), or the template era's X-k6cloud-ID,
 * X-k6cloud-Event and K6CloudWebHook. Either way the ID is fresh for every attempt and the
 * event is its name (`test.started`), and Standard Webhooks' headers are added when signed.
 */
export const HEADER_STYLES = ['loadimpact', 'k6cloud'] as const;
export type HeaderStyle = (typeof HEADER_STYLES)[number];

function styleHeaders(style: HeaderStyle, requestId: string, eventName: string): Record<string, string> {
  return style === 'k6cloud'
    ? { 'User-Agent': K6CLOUD_USER_AGENT, 'X-k6cloud-ID': requestId, 'X-k6cloud-Event': eventName }
    : { 'User-Agent': WEBHOOK_USER_AGENT, 'X-LoadImpact-ID': requestId, 'X-LoadImpact-Event': eventName };
}

/** A template's engine as saved: Liquid when the config names none. */
export function templateEngineOf(config: Record<string, unknown>): TemplateEngine {
  return config.template_engine === 'jinja2' ? 'jinja2' : 'liquid';
}

/** Whether a body of this content type must be JSON. */
function isJsonType(contentType: string): boolean {
  return /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i.test(contentType);
}

/** Refuses anything but http(s): file:, data:, gopher: and friends are not webhooks. */
export function checkHttpUrl(url: URL): string | null {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `the URL must start with http:// or https://, not ${url.protocol}//`;
  }
  return null;
}

const MAX_REASON_CHARS = 200;

/** "HTTP 404: channel_not_found": the status and the start of the body, for the delivery log. */
export function responseReason(response: ReceiverResponse): string {
  const text = response.body.replace(/\s+/g, ' ').trim();
  const excerpt = truncateText(text, MAX_REASON_CHARS);
  return excerpt ? `HTTP ${response.status}: ${excerpt}` : `HTTP ${response.status}`;
}

/** The answer's body as a JSON object, or null when it is not one. */
export function jsonBody(response: ReceiverResponse): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(response.body);
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * The reason from a JSON error body, for services that explain themselves in JSON:
 * `{"error": {"message", "code"|"status"}}` (HipChat, Google, Azure Logic Apps behind Teams
 * Workflows) or `{"message", "id"?}` (Discord, Mattermost). A string code names the error
 * ("INVALID_ARGUMENT: ..."); numeric codes add nothing to the HTTP status and are left out.
 * Anything else falls back to the raw body.
 */
export function jsonErrorReason(response: ReceiverResponse): string {
  const outer = jsonBody(response);
  if (!outer) return responseReason(response);
  const inner =
    outer.error !== null && typeof outer.error === 'object'
      ? (outer.error as Record<string, unknown>)
      : outer;
  if (typeof inner.message !== 'string') return responseReason(response);
  const name = [inner.status, inner.code, inner.id].find(
    (v): v is string => typeof v === 'string' && v !== '',
  );
  const text = name ? `${name}: ${inner.message}` : inner.message;
  return responseReason({ ...response, body: text });
}

/** The request every chat channel sends: the rendered body as JSON to the channel's URL. */
export function postJson(url: string, body: unknown): RenderedRequest {
  return {
    method: 'POST',
    url,
    headers: { 'Content-Type': 'application/json', 'User-Agent': PRODUCT },
    body: JSON.stringify(body),
  };
}

/** A retry that carries the receiver's Retry-After, when it sent one. */
export function retryWith(response: ReceiverResponse, reason: string): Classification {
  // classify() gets no clock; our own only matters for an HTTP-date Retry-After without a
  // Date header, and then "now" is exactly what is meant.
  const afterMs = retryAfterFromHeaders(response.headers, new Date());
  return afterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, afterMs };
}

/**
 * A generic receiver: any 2xx is success. 410 Gone is the one answer that says the hook will
 * never work again. Every other answer, other 4xx included, is retried: a hand-written
 * receiver answering 401/404/500 is usually mid-deploy or misconfigured for a while, and the
 * retries run out on their own after a day, whereas a wrong "permanent" loses the event.
 */
export function classifyHttp(response: ReceiverResponse): Classification {
  if (response.status >= 200 && response.status < 300) return { kind: 'delivered' };
  const reason = responseReason(response);
  if (response.status === 410)
    return { kind: 'permanent', reason: `${reason} (the receiver says the hook is gone)` };
  return retryWith(response, reason);
}

/**
 * The reading shared by chat services that explain errors in JSON: 2xx delivered, the
 * statuses the service uses for "this will never work" permanent, everything else as plain
 * HTTP (429 and 5xx retried after any Retry-After); the reason from the JSON error body.
 */
export function classifyWithPermanent(
  response: ReceiverResponse,
  permanentStatuses: ReadonlySet<number>,
): Classification {
  if (response.status >= 200 && response.status < 300) return { kind: 'delivered' };
  const reason = jsonErrorReason(response);
  if (permanentStatuses.has(response.status)) return { kind: 'permanent', reason };
  const plain = classifyHttp(response);
  return plain.kind === 'retry' ? { ...plain, reason } : plain;
}

/** The secrets that sign at `now`: the current one, and the previous one until it expires. */
export function activeSecrets(secrets: readonly SigningSecret[] | undefined, now: Date): string[] {
  return (secrets ?? [])
    .filter((s) => s.expires_at === null || s.expires_at > now.getTime())
    .map((s) => s.secret);
}

/**
 * Adds `webhook-timestamp` and `webhook-signature` when the channel has a signing secret.
 * Render runs once per attempt, so the timestamp is the attempt's, as the specification wants
 * (a receiver refuses timestamps older than its tolerance, and a retry can come hours later).
 */
export function signRequest(
  headers: Record<string, string>,
  body: string,
  secrets: readonly SigningSecret[] | undefined,
  webhookId: string,
  now: Date,
): Record<string, string> {
  const active = activeSecrets(secrets, now);
  if (active.length === 0) return headers;
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    ...headers,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(active, webhookId, timestamp, body),
  };
}

const MAX_CUSTOM_HEADERS = 20;
const MAX_HEADER_VALUE_CHARS = 4000;

/**
 * `payload_version` left out follows `status_scheme` (the documents' body in that numbering),
 * which stays the one place the numbering is chosen: `k6` or `loadimpact-v3` given here must
 * agree with it, and `extended` numbers `status` the same way.
 */
const WebhookConfig = Type.Object(
  {
    payload_version: Type.Optional(Type.Union(PAYLOAD_VERSIONS.map((v) => Type.Literal(v)))),
    template: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TEMPLATE_CHARS })),
    content_type: Type.Optional(
      Type.String({ maxLength: 200, pattern: '^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+( *;[ -~]*)?$' }),
    ),
    template_engine: Type.Optional(Type.Union(TEMPLATE_ENGINES.map((v) => Type.Literal(v)))),
    header_style: Type.Optional(Type.Union(HEADER_STYLES.map((v) => Type.Literal(v)))),
    headers: Type.Optional(
      Type.Record(Type.String(), Type.String({ maxLength: MAX_HEADER_VALUE_CHARS }), {
        maxProperties: MAX_CUSTOM_HEADERS,
      }),
    ),
    basic_auth_username: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    basic_auth_password: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

/** RFC 9110's token: what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A field value: visible ASCII and Latin-1, spaces and tabs inside; never CR, LF or NUL. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Headers the service sets itself or the connection owns, lower-cased: a custom header may not
 * replace them (a receiver must be able to trust the signature and the k6 Cloud headers, and
 * framing headers would break the request). Prefixes cover the k6 Cloud families.
 */
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-authorization',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);
const RESERVED_PREFIXES = ['x-loadimpact-', 'x-k6cloud-'];

function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED_HEADERS.has(lower) || RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

/** The custom headers' problems: syntax, reserved names, and a second Authorization. */
function checkCustomHeaders(config: Record<string, unknown>): ConfigProblem | null {
  const headers = (config.headers ?? {}) as Record<string, string>;
  const names = Object.keys(headers);
  const badName = names.find((name) => !HEADER_NAME.test(name));
  if (badName !== undefined)
    return {
      field: 'config.headers',
      message: `config.headers: ${JSON.stringify(badName)} is not a header name (letters, digits and !#$%&'*+-.^_\`|~ only, no spaces or colons)`,
    };
  const badValue = names.find((name) => !HEADER_VALUE.test(headers[name]!));
  if (badValue !== undefined)
    return {
      field: 'config.headers',
      message: `config.headers: the value of ${badValue} holds a line break or a control character; a header value is one line of text`,
    };
  const reserved = names.filter(isReservedHeader);
  if (reserved.length > 0)
    return {
      field: 'config.headers',
      message: `config.headers: ${reserved.join(', ')} ${reserved.length === 1 ? 'is' : 'are'} set by loadnotify itself and cannot be given (reserved: Content-Type, Content-Length, Host, User-Agent, webhook-id, webhook-timestamp, webhook-signature, X-LoadImpact-*, X-k6cloud-* and the connection's own headers)`,
    };
  const lower = new Set<string>();
  for (const name of names) {
    if (lower.has(name.toLowerCase()))
      return {
        field: 'config.headers',
        message: `config.headers: ${name} is given twice (header names are not case-sensitive)`,
      };
    lower.add(name.toLowerCase());
  }
  const hasUser = config.basic_auth_username !== undefined;
  if (hasUser !== (config.basic_auth_password !== undefined))
    return {
      field: hasUser ? 'config.basic_auth_password' : 'config.basic_auth_username',
      message: hasUser
        ? 'config.basic_auth_password: HTTP Basic auth needs a password with the username'
        : 'config.basic_auth_username: HTTP Basic auth needs a username with the password',
    };
  if (hasUser && String(config.basic_auth_username).includes(':'))
    return {
      field: 'config.basic_auth_username',
      message: 'config.basic_auth_username: HTTP Basic auth usernames cannot contain a colon',
    };
  const authorization = names.find((name) => name.toLowerCase() === 'authorization');
  if (hasUser && authorization !== undefined)
    return {
      field: 'config.headers',
      message: `config.headers: ${authorization} and HTTP Basic auth both set the Authorization header; use one of them`,
    };
  return null;
}

/** The Authorization header HTTP Basic auth sends, or null without it. */
function basicAuthorization(config: Record<string, unknown>): string | null {
  const { basic_auth_username: user, basic_auth_password: pass } = config;
  if (typeof user !== 'string' || typeof pass !== 'string') return null;
  return `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
}

/** A webhook's body template, checked in a template worker when saved. */
function webhookTemplates(config: Record<string, unknown>): TemplateSource[] {
  return typeof config.template === 'string'
    ? [{ field: 'config.template', source: config.template, engine: templateEngineOf(config) }]
    : [];
}
function checkWebhookConfig(
  config: Record<string, unknown>,
  channel: { status_scheme: string },
): ConfigProblem | null {
  const headerProblem = checkCustomHeaders(config);
  if (headerProblem) return headerProblem;
  const version = config.payload_version;
  if ((version === 'k6' || version === 'loadimpact-v3') && version !== channel.status_scheme)
    return {
      field: 'config.payload_version',
      message: `config.payload_version: ${version} contradicts status_scheme ${channel.status_scheme}; leave payload_version out to follow status_scheme, or use extended`,
    };
  // A template itself is checked in a template worker (webhookTemplates); without one, the
  // settings that only a template uses have nothing to apply to.
  if (typeof config.template === 'string') return null;
  if (config.template_engine !== undefined)
    return {
      field: 'config.template_engine',
      message:
        'config.template_engine: it says which language config.template is in; set config.template too',
    };
  if (config.content_type !== undefined)
    return {
      field: 'config.content_type',
      message:
        'config.content_type: only a template can make a body that is not JSON; set config.template too',
    };
  return null;
}

/** The channel's template with its variables (templateScope), or null without one. */
function templateJob(
  event: StoredEvent,
  channel: ChannelForDelivery,
  ctx: RenderContext,
): TemplateJob | null {
  const { template } = channel.config;
  // An operator alert goes as its own JSON: the template is written for runs.
  if (typeof template !== 'string' || event.data.type === 'notification_channel.alert') return null;
  return {
    source: template,
    scope: templateScope(event, channel, ctx),
    engine: templateEngineOf(channel.config),
  };
}

/** The body: the template's output, the extended payload, or the documents' one. */
function webhookBody(event: StoredEvent, channel: ChannelForDelivery, ctx: RenderContext) {
  const { template, payload_version: version, content_type: contentType } = channel.config;
  if (typeof template === 'string' && event.data.type !== 'notification_channel.alert') {
    // Rendered in a template worker beforehand; rendering it here would run a user's loop on
    // the service's thread, which is what the workers are for.
    if (ctx.templateOutput === undefined)
      throw new TemplateError('the template was not rendered: templates render in the template workers');
    const body = ctx.templateOutput;
    const type = typeof contentType === 'string' ? contentType : 'application/json';
    // k6 Cloud's rule for its Jinja2 webhooks: what the template makes must be JSON. Liquid
    // bodies are sent as made, as they always were.
    if (templateEngineOf(channel.config) === 'jinja2' && isJsonType(type)) {
      try {
        JSON.parse(body);
      } catch (err) {
        throw new TemplateError(
          `the template made a body that is not valid JSON (${(err as Error).message}); a jinja2 webhook template must make JSON, or set config.content_type to what it makes`,
        );
      }
    }
    return { body, contentType: type };
  }
  const payload =
    version === 'extended'
      ? extendedPayload(event.data, channel.status_scheme, ctx.publicUrl)
      : documentedPayload(event.data, channel.status_scheme);
  return { body: JSON.stringify(payload), contentType: 'application/json' };
}

export const webhookChannel: ChannelType = {
  type: 'webhook',
  label: 'WebHook',
  description: 'An HTTP POST with a JSON payload to any URL, compatible with k6 Cloud webhook receivers.',
  mark: '{ }',
  urlHelp: {
    placeholder: 'https://ci.example.com/hooks/load-tests',
    hint: 'loadnotify POSTs JSON with X-LoadImpact-Event and X-LoadImpact-ID headers to this URL.',
  },
  config: {
    schema: WebhookConfig,
    fields: {
      payload_version: {
        label: 'Payload',
        options: [
          { value: '', label: 'Documented (k6 Cloud keys)' },
          { value: 'extended', label: 'Extended (more fields)' },
        ],
        hint: 'The documented body tells a failed run from a passed one only by its status number: with k6 numbering both are 3 Finished (LoadImpact v3 numbering sends 12 Failed threshold). Extended adds result (passed or failed), run times, duration, trigger, names, the summary and a link. Both number status by the status scheme below.',
      },
      template: {
        more: true,
        label: 'Body template (optional)',
        multiline: true,
        placeholder: '{"text": "{{ name }}: {{ status_text }} {{ url }}"}',
        hint: 'Liquid or Jinja2 (below). Variables: the extended payload’s fields (name, status_text, project_name, url, summary, …), payload (all of them), and k6 Cloud’s test, user, event and errors (test.name, test.result, event.type, …). Left empty, the payload above is sent.',
      },
      content_type: {
        more: true,
        label: 'Content type (optional)',
        placeholder: 'application/json',
        hint: 'Only with a template; application/json when empty.',
      },
      template_engine: {
        more: true,
        label: 'Template language',
        options: [
          { value: '', label: 'Liquid' },
          { value: 'jinja2', label: 'Jinja2 (k6 Cloud templates)' },
        ],
        hint: 'Jinja2 reads templates written for k6 Cloud; its result must be valid JSON unless a content type says otherwise.',
      },
      header_style: {
        more: true,
        label: 'Headers',
        options: [
          { value: '', label: 'LoadImpact (X-LoadImpact-ID, X-LoadImpact-Event)' },
          { value: 'k6cloud', label: 'k6 Cloud (X-k6cloud-ID, X-k6cloud-Event)' },
        ],
        hint: 'Which generation of k6 Cloud’s webhook headers to send; the User-Agent follows (LoadImpactWebHook or K6CloudWebHook).',
      },
      headers: {
        more: true,
        label: 'Custom headers (optional)',
        hint: 'Sent with every request, one per line as Name: value (an Authorization or an API key header); write-only, and given again as a whole to change them. The headers loadnotify sets itself are refused.',
        placeholder: 'Authorization: Bearer …',
      },
      basic_auth_username: {
        more: true,
        label: 'Basic auth user (optional)',
        hint: 'HTTP Basic auth: sent with the password below as the Authorization header.',
      },
      basic_auth_password: {
        more: true,
        label: 'Basic auth password (optional)',
        hint: 'Write-only.',
      },
    },
    // Both may hold a receiver's credentials; they stay with the URL they were given for.
    secret: ['headers', 'basic_auth_password'],
    credentials: ['headers', 'basic_auth_username', 'basic_auth_password'],
    derivedSecrets: (config) => {
      const authorization = basicAuthorization(config);
      return authorization ? [authorization] : [];
    },
    check: checkWebhookConfig,
    templates: webhookTemplates,
  },
  signing: true,
  numbersStatuses: true,
  checkUrl: checkHttpUrl,
  template: templateJob,
  render(event, channel, ctx) {
    const { body, contentType } = webhookBody(event, channel, ctx);
    const style: HeaderStyle = channel.config.header_style === 'k6cloud' ? 'k6cloud' : 'loadimpact';
    const authorization = basicAuthorization(channel.config);
    const headers = {
      // First, so that nothing of the service's own below can be replaced (they are refused at
      // save; a row older than that check still cannot override them).
      ...(channel.config.headers as Record<string, string> | undefined),
      ...(authorization ? { Authorization: authorization } : {}),
      'Content-Type': contentType,
      ...styleHeaders(style, ctx.requestId, event.data.type),
      'webhook-id': ctx.webhookId,
    };
    return {
      method: 'POST',
      url: channel.url,
      headers: signRequest(headers, body, channel.signing_secrets, ctx.webhookId, ctx.now),
      body,
    };
  },
  classify: classifyHttp,
};
