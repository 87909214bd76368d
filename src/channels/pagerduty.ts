/**
 * PagerDuty Events API v2 (spec/channel-formats.md). One alert per load test, keyed by
 * `dedup_key`: a run that ends badly (thresholds failed, timed out, aborted) triggers it, and a
 * later run of the same test that finishes without failing resolves it. Starts are not sent:
 * a start is not something to page anyone about, so the type refuses `test.started`.
 */
import { Type } from 'typebox';
import type { EventData, RunSnapshot } from '../core/events.js';
import { effectiveResult, type ChannelEvents } from '../core/filters.js';
import { buildMessage, oneLine, runUrl, truncateText } from '../core/message.js';
import type { ChannelType, Classification, ReceiverResponse, RenderedRequest } from './channel.js';
import { PRODUCT, checkHttpUrl, classifyHttp, responseReason, retryWith } from './webhook.js';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** PagerDuty's limit on `payload.summary`. */
export const MAX_SUMMARY_CHARS = 1024;

export const PagerDutyConfig = Type.Object(
  {
    routing_key: Type.String({ minLength: 1, maxLength: 100 }),
    severity: Type.Union(
      SEVERITIES.map((s) => Type.Literal(s)),
      { default: 'error' },
    ),
  },
  { additionalProperties: false },
);

interface PagerDutySettings {
  routing_key: string;
  severity: Severity;
}

/** An Events API v2 integration key: 32 characters (PagerDuty's docs), letters and digits. */
const ROUTING_KEY = /^[A-Za-z0-9]{32}$/;

/** One alert per load test, across its runs. */
export function dedupKey(run: Pick<RunSnapshot, 'organization_id' | 'load_test_id'>): string {
  return `loadnotify-${run.organization_id}-${run.load_test_id}`;
}

/** trigger when the run ended badly (the same rule as the "only failures" filter), else resolve. */
export function eventAction(run: Pick<RunSnapshot, 'status' | 'result'>): 'trigger' | 'resolve' {
  return effectiveResult(run) === 'failed' ? 'trigger' : 'resolve';
}

function body(
  event: EventData,
  channel: { id: number; organization_id: number; name: string },
  severity: Severity,
  publicUrl: string,
) {
  const channelName = channel.name;
  const message = buildMessage(event, publicUrl);
  if (event.type === 'notification_channel.alert') {
    // One incident per failing channel: its later alerts update it, and it never touches a
    // load test's incident.
    const { alert } = event;
    return {
      event_action: 'trigger',
      dedup_key: `loadnotify-${alert.organization_id}-channel-${alert.channel.id}-failing`,
      payload: {
        summary: truncateText(message.summary, MAX_SUMMARY_CHARS),
        source: 'loadnotify',
        severity: alert.kind === 'disabled' ? 'error' : 'warning',
        class: 'notification channel failing',
        custom_details: {
          channel: oneLine(alert.channel.name),
          reason: alert.reason,
          failed_deliveries: alert.count,
        },
      },
      links: [{ href: alert.channel.url, text: oneLine(message.link!.text) }],
      client: 'loadnotify',
    };
  }
  if (event.type === 'test.notification_channel') {
    // Its own key per channel: pressing the button again updates the same alert instead of
    // adding one, and it never touches a load test's alert.
    return {
      event_action: 'trigger',
      dedup_key: `loadnotify-${channel.organization_id}-channel-${channel.id}-test`,
      payload: {
        summary: truncateText(
          `${message.summary} Channel: ${oneLine(channelName)}. Resolve this alert in PagerDuty.`,
          MAX_SUMMARY_CHARS,
        ),
        source: 'loadnotify',
        severity: 'info',
        class: 'test notification',
        custom_details: { channel: oneLine(channelName) },
      },
      client: 'loadnotify',
    };
  }
  const { run } = event;
  const url = runUrl(publicUrl, run.run_id);
  const action = eventAction(run);
  if (action === 'resolve') {
    return { event_action: 'resolve', dedup_key: dedupKey(run), client: 'loadnotify', client_url: url };
  }
  return {
    event_action: 'trigger',
    dedup_key: dedupKey(run),
    payload: {
      summary: truncateText(message.summary, MAX_SUMMARY_CHARS),
      source: truncateText(`${oneLine(run.project_name)} / ${oneLine(run.load_test_name)}`, 255),
      severity,
      ...(run.ended_at ? { timestamp: run.ended_at } : {}),
      component: oneLine(run.load_test_name),
      group: oneLine(run.project_name),
      class: 'load test',
      custom_details: {
        ...Object.fromEntries(message.facts.map((f) => [f.label, f.value])),
        run_id: run.run_id,
        load_test_id: run.load_test_id,
        project_id: run.project_id,
        status: run.status,
        result: run.result,
        started_at: run.started_at,
        ended_at: run.ended_at,
        ...(run.summary ? { summary: run.summary } : {}),
      },
    },
    links: [{ href: url, text: `View run #${run.run_id} in loadnotify` }],
    client: 'loadnotify',
    client_url: url,
  };
}

/** "HTTP 400: Event object is invalid: Length of 'routing_key' is incorrect". */
export function pagerdutyReason(response: ReceiverResponse): string {
  try {
    const parsed = JSON.parse(response.body) as { message?: unknown; errors?: unknown };
    const errors = Array.isArray(parsed.errors) ? parsed.errors.filter((e) => typeof e === 'string') : [];
    const parts = [typeof parsed.message === 'string' ? parsed.message : '', errors.join('; ')].filter(
      Boolean,
    );
    if (parts.length > 0) return `HTTP ${response.status}: ${truncateText(parts.join(': '), 300)}`;
  } catch {
    /* not JSON: the raw body below */
  }
  return responseReason(response);
}

/**
 * 202 (any 2xx): accepted. 400: the event is invalid and always will be (never retried, as
 * PagerDuty asks), PagerDuty's `errors` in the reason. 429 and 5xx: retried, honouring
 * Retry-After. Anything else (a compatible endpoint's 404, ...): the generic HTTP reading.
 */
export function classifyPagerDuty(response: ReceiverResponse): Classification {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 400) return { kind: 'permanent', reason: pagerdutyReason(response) };
  if (status === 429 || status >= 500) return retryWith(response, pagerdutyReason(response));
  return classifyHttp(response);
}

const STARTS_REFUSED =
  'events.test.started.enabled: PagerDuty channels are not sent run starts (nobody should be paged for one); leave it false';

export const PAGERDUTY_DEFAULT_EVENTS: ChannelEvents = {
  'test.started': { enabled: false, triggers: [] },
  'test.finished': { enabled: true, triggers: [], statuses: [], results: [] },
};

export const pagerdutyChannel: ChannelType = {
  type: 'pagerduty',
  label: 'PagerDuty',
  description:
    'An alert per load test through the Events API v2: a failed run triggers it, a later passing run resolves it.',
  mark: 'PD',
  urlHelp: {
    placeholder: PAGERDUTY_EVENTS_URL,
    hint: 'Left empty: PagerDuty’s own endpoint. Set it for an Events API v2 compatible service.',
  },
  config: {
    schema: PagerDutyConfig,
    fields: {
      routing_key: {
        label: 'Integration key',
        hint: 'The 32-character key of an Events API v2 integration on a PagerDuty service. Write-only.',
      },
      severity: {
        label: 'Severity of failures',
        options: [
          { value: 'critical', label: 'Critical' },
          { value: 'error', label: 'Error' },
          { value: 'warning', label: 'Warning' },
          { value: 'info', label: 'Info' },
        ],
      },
    },
    secret: ['routing_key'],
    check: (c) =>
      ROUTING_KEY.test(String(c.routing_key))
        ? null
        : {
            field: 'config.routing_key',
            message:
              'config.routing_key must be the 32-character integration key of an Events API v2 integration (letters and digits)',
          },
  },
  defaultUrl: PAGERDUTY_EVENTS_URL,
  defaultEvents: PAGERDUTY_DEFAULT_EVENTS,
  checkEvents: (events) =>
    events['test.started'].enabled ? { field: 'events.test.started.enabled', message: STARTS_REFUSED } : null,
  checkUrl: checkHttpUrl,
  render(event, channel, ctx): RenderedRequest {
    if (event.data.type === 'test.started') throw new Error(STARTS_REFUSED);
    const config = channel.config as unknown as PagerDutySettings;
    const event_ = body(event.data, channel, config.severity, ctx.publicUrl);
    return {
      method: 'POST',
      url: channel.url,
      headers: { 'Content-Type': 'application/json', 'User-Agent': PRODUCT },
      body: JSON.stringify({ routing_key: config.routing_key, ...event_ }),
    };
  },
  classify: classifyPagerDuty,
};
