/**
 * The generic webhook of the k6 Cloud / LoadImpact documents: their JSON body and headers,
 * byte for byte. Also home of the plain HTTP reading of an answer, which the chat channels
 * fall back to for answers their services do not document.
 */
import { retryAfterFromHeaders } from '../core/backoff.js';
import { truncateText } from '../core/message.js';
import { documentedPayload } from '../core/webhook-payload.js';
import type { ChannelType, Classification, ReceiverResponse, RenderedRequest } from './channel.js';

/** Product token for User-Agent headers. */
export const PRODUCT = 'loadnotify/0.1';
/** The documents promise receivers that the User-Agent starts with LoadImpactWebHook. */
export const WEBHOOK_USER_AGENT = `LoadImpactWebHook (${PRODUCT})`;

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

/**
 * The reason from a JSON error body, for services that explain themselves in JSON:
 * `{"error": {"message", "code"|"status"}}` (HipChat, Google, Azure Logic Apps behind Teams
 * Workflows) or `{"message", "id"?}` (Discord, Mattermost). A string code names the error
 * ("INVALID_ARGUMENT: ..."); numeric codes add nothing to the HTTP status and are left out.
 * Anything else falls back to the raw body.
 */
export function jsonErrorReason(response: ReceiverResponse): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    return responseReason(response);
  }
  if (parsed === null || typeof parsed !== 'object') return responseReason(response);
  const outer = parsed as Record<string, unknown>;
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

export const webhookChannel: ChannelType = {
  type: 'webhook',
  label: 'WebHook',
  checkUrl: checkHttpUrl,
  render(event, channel, ctx) {
    return {
      method: 'POST',
      url: channel.url,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': WEBHOOK_USER_AGENT,
        'X-LoadImpact-ID': ctx.requestId,
        'X-LoadImpact-Event': event.data.type,
        'webhook-id': ctx.webhookId,
      },
      body: JSON.stringify(documentedPayload(event.data, channel.status_scheme)),
    };
  },
  classify: classifyHttp,
};
