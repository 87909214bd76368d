/**
 * Grafana annotations (HTTP API, `POST /api/annotations` and `PATCH /api/annotations/:id`): a
 * region on the dashboards where a team already watches its systems, covering each run. The
 * run's start creates the annotation and the channel remembers its id (ChannelType.stateKey);
 * the end patches the same annotation with `timeEnd`, the result as a tag and the figures. An
 * end with nothing remembered (the start was filtered out, failed, or came before the channel
 * existed) and an end whose annotation was deleted in Grafana create the whole region at once.
 * The channel's URL is Grafana's base URL; a service account token authenticates us.
 */
import { Type } from 'typebox';
import type { RunSnapshot, StoredEvent } from '../core/events.js';
import { escapeHtml } from '../core/html.js';
import { buildMessage, oneLine, truncateText } from '../core/message.js';
import type {
  ChannelForDelivery,
  ChannelType,
  Classification,
  ConfigProblem,
  Exchange,
  NextStep,
  ReceiverResponse,
  RenderContext,
  RenderedRequest,
} from './channel.js';
import { PRODUCT, checkHttpUrl, classifyHttp, jsonErrorReason, retryWith } from './webhook.js';

/** Grafana keeps a tag's key and value in columns of 100 characters (its `tag` table). */
export const MAX_TAG_CHARS = 100;
export const MAX_EXTRA_TAGS = 10;
/** Grafana's dashboard UIDs are at most 40 characters. */
const MAX_UID_CHARS = 40;

export const GrafanaConfig = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 1000 }),
    dashboard_uid: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_UID_CHARS })),
    panel_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
    tags: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: MAX_TAG_CHARS }), { maxItems: MAX_EXTRA_TAGS }),
    ),
  },
  { additionalProperties: false },
);

interface GrafanaSettings {
  token: string;
  dashboard_uid?: string;
  panel_id?: number;
  tags?: string[];
}

/** A token goes out in a header: visible ASCII, no spaces (glsa_… or an older API key). */
const TOKEN = /^[\x21-\x7e]+$/;
const UID = /^[A-Za-z0-9_-]+$/;
/** A tag is one line of text: no control characters. */
const ONE_LINE = /^\P{Cc}*$/u;

function checkGrafanaConfig(config: Record<string, unknown>): ConfigProblem | null {
  const c = config as unknown as GrafanaSettings;
  if (!TOKEN.test(c.token))
    return {
      field: 'config.token',
      message:
        'config.token: a Grafana service account token is one word (glsa_…) without spaces or line breaks; paste it again',
    };
  if (c.dashboard_uid !== undefined && !UID.test(c.dashboard_uid))
    return {
      field: 'config.dashboard_uid',
      message:
        'config.dashboard_uid: a dashboard UID is letters, digits, - and _ only, the part after /d/ in the dashboard’s address',
    };
  // Named on the dashboard's field: giving it is the usual fix (and a form clears the error there).
  if (c.panel_id !== undefined && c.dashboard_uid === undefined)
    return {
      field: 'config.dashboard_uid',
      message: `config.dashboard_uid: panel ${c.panel_id} is on a dashboard; give that dashboard’s UID too, or leave config.panel_id out`,
    };
  const bad = (c.tags ?? []).find((tag) => !ONE_LINE.test(tag) || tag.trim() === '');
  if (bad !== undefined)
    return {
      field: 'config.tags',
      message: `config.tags: ${JSON.stringify(bad)} is not a tag; each tag is one line of text`,
    };
  return null;
}

/**
 * Grafana's own address: http(s), the path it may be served under, nothing after. The API's
 * paths are ours to add, so a URL already naming one is refused rather than doubled.
 */
export function checkGrafanaUrl(url: URL): string | null {
  const scheme = checkHttpUrl(url);
  if (scheme) return scheme;
  if (url.search !== '' || url.hash !== '')
    return 'give Grafana’s address alone (https://grafana.example.com), without a ?query or #fragment';
  if (/\/api(\/|$)/.test(url.pathname))
    return 'give Grafana’s address (https://grafana.example.com), without /api/annotations: loadnotify adds the API’s path';
  return null;
}

/** `<base>/api/annotations`, or `<base>/api/annotations/<id>`. */
export function annotationsUrl(base: string, id?: string): string {
  const root = `${base.replace(/\/+$/, '')}/api/annotations`;
  return id === undefined ? root : `${root}/${encodeURIComponent(id)}`;
}

function request(
  channel: ChannelForDelivery,
  method: 'POST' | 'PATCH',
  url: string,
  body: Record<string, unknown>,
): RenderedRequest {
  const { token } = channel.config as unknown as GrafanaSettings;
  return {
    method,
    url,
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'User-Agent': PRODUCT,
    },
    body: JSON.stringify(body),
  };
}

/** A tag `key:value` (Grafana reads the first colon as the split), within Grafana's length. */
function pair(key: string, value: string): string {
  return truncateText(`${key}:${oneLine(value)}`, MAX_TAG_CHARS);
}

/** How the run ended, as its tag says: passed, failed, finished (no thresholds), timed_out, aborted_by_…. */
export function outcomeWord(run: Pick<RunSnapshot, 'status' | 'result'>): string {
  return run.status === 'finished' ? (run.result ?? 'finished') : run.status;
}

function tags(channel: ChannelForDelivery, own: string[]): string[] {
  const extra = (channel.config as unknown as GrafanaSettings).tags ?? [];
  return [...new Set(['loadnotify', ...own, ...extra])];
}

function runTags(channel: ChannelForDelivery, run: RunSnapshot, ended: boolean): string[] {
  return tags(channel, [
    pair('load-test', run.load_test_name),
    pair('project', run.project_name),
    `trigger:${run.trigger}`,
    ...(ended ? [`result:${outcomeWord(run)}`] : []),
  ]);
}

/**
 * The annotation's text. Grafana shows it as HTML (sanitized) in the panel's tooltip, so user
 * text is escaped and the lines are joined with <br>: the title, the facts and figures, and
 * a link to the run.
 */
function annotationText(event: StoredEvent, publicUrl: string): string {
  const message = buildMessage(event.data, publicUrl);
  const lines = [`<b>${escapeHtml(message.title)}</b>`];
  if (event.data.run === null) lines.push(escapeHtml(message.summary));
  for (const fact of message.facts) {
    if (fact.label === 'Test') continue; // the title names it
    const value = fact.url
      ? `<a href="${escapeHtml(fact.url)}">${escapeHtml(fact.value)}</a>`
      : escapeHtml(fact.value);
    lines.push(`${escapeHtml(fact.label)}: ${value}`);
  }
  if (message.link)
    lines.push(
      `<a href="${escapeHtml(message.link.url)}">${escapeHtml(message.link.text)} in loadnotify</a>`,
    );
  return lines.join('<br>');
}

/** The dashboard (and panel) the channel binds its annotations to, as Grafana names them. */
function placement(channel: ChannelForDelivery): Record<string, unknown> {
  const c = channel.config as unknown as GrafanaSettings;
  return {
    ...(c.dashboard_uid !== undefined ? { dashboardUID: c.dashboard_uid } : {}),
    ...(c.panel_id !== undefined ? { panelId: c.panel_id } : {}),
  };
}

function ms(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const at = Date.parse(iso);
  return Number.isFinite(at) ? at : null;
}

/** Where the run's region starts and ends, in epoch ms; a run never started starts when it was made. */
function span(event: StoredEvent, run: RunSnapshot): { time: number; timeEnd: number } {
  const time = ms(run.started_at) ?? ms(run.created_at) ?? ms(event.created_at) ?? Date.now();
  const end = ms(run.ended_at) ?? ms(event.created_at) ?? time;
  return { time, timeEnd: Math.max(time, end) };
}

/** A new region covering the whole run: an end with no annotation of its start to close. */
function wholeRun(event: StoredEvent, channel: ChannelForDelivery, run: RunSnapshot, publicUrl: string) {
  return request(channel, 'POST', annotationsUrl(channel.url), {
    ...placement(channel),
    ...span(event, run),
    tags: runTags(channel, run, true),
    text: annotationText(event, publicUrl),
  });
}

/** The start's annotation: a point at the run's start, until its end makes it a region. */
function startAnnotation(
  event: StoredEvent,
  channel: ChannelForDelivery,
  run: RunSnapshot,
  publicUrl: string,
) {
  return request(channel, 'POST', annotationsUrl(channel.url), {
    ...placement(channel),
    time: span(event, run).time,
    tags: runTags(channel, run, false),
    text: annotationText(event, publicUrl),
  });
}

function render(event: StoredEvent, channel: ChannelForDelivery, ctx: RenderContext): RenderedRequest {
  const { data } = event;
  if (data.run === null)
    // A point at the moment of the test, on the same dashboard: where the person will look.
    return request(channel, 'POST', annotationsUrl(channel.url), {
      ...placement(channel),
      time: ctx.now.getTime(),
      tags: tags(channel, ['test']),
      text: annotationText(event, ctx.publicUrl),
    });
  const { run } = data;
  // Only ever an id Grafana answered with (annotationId); checked again before it goes in a URL.
  const id = ctx.remembered && /^\d+$/.test(ctx.remembered) ? ctx.remembered : null;
  if (data.type === 'test.started') {
    // The start sent again (a redelivery): the annotation it made is the one to mark.
    if (id !== null)
      return request(channel, 'PATCH', annotationsUrl(channel.url, id), { time: span(event, run).time });
    return startAnnotation(event, channel, run, ctx.publicUrl);
  }
  if (id === null) return wholeRun(event, channel, run, ctx.publicUrl);
  return request(channel, 'PATCH', annotationsUrl(channel.url, id), {
    ...span(event, run),
    tags: runTags(channel, run, true),
    text: annotationText(event, ctx.publicUrl),
  });
}

const HINTS: Record<number, string> = {
  401: 'the service account token is wrong, expired or revoked',
  403: 'the service account may not write annotations here: give it the Editor role, or edit rights on the dashboard',
};

/**
 * 2xx: done. 401 and 403: permanent, saying what to fix in Grafana. 404 to a POST: there is
 * no annotations API at this address (a PATCH's 404 is a deleted annotation; see next). 400:
 * Grafana refused the annotation, and would again. 429 and 5xx: retried, after any
 * Retry-After. Anything else: the plain HTTP reading.
 */
export function classifyGrafana(response: ReceiverResponse, method: string = 'POST'): Classification {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  const reason = jsonErrorReason(response);
  const hint = HINTS[status];
  if (hint) return { kind: 'permanent', reason: `${reason} (${hint})` };
  if (status === 404 && method === 'POST')
    return {
      kind: 'permanent',
      reason: `${reason} (no Grafana annotations API at this address: the channel’s URL must be Grafana’s own, such as https://grafana.example.com)`,
    };
  if (status === 400) return { kind: 'permanent', reason };
  if (status === 429 || status >= 500) return retryWith(response, reason);
  const plain = classifyHttp(response);
  return plain.kind === 'retry' ? { ...plain, reason } : plain;
}

/** The id in Grafana's answer to a create, `{"message":"Annotation added","id":1}`, or null. */
export function annotationId(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { id?: unknown };
    return typeof parsed.id === 'number' && Number.isSafeInteger(parsed.id) && parsed.id > 0
      ? String(parsed.id)
      : null;
  } catch {
    return null;
  }
}

const NOT_GRAFANA =
  'the answer is not Grafana’s (no annotation id in it): check that the channel’s URL is Grafana’s own address, not a sign-in page or a proxy in front of it';

function next(
  event: StoredEvent,
  channel: ChannelForDelivery,
  ctx: RenderContext,
  answered: readonly Exchange[],
): NextStep {
  const { request: sent, response } = answered[answered.length - 1]!;
  const { data } = event;
  // The annotation this run made is gone (deleted in Grafana): mark the run anew.
  if (sent.method === 'PATCH' && response.status === 404 && data.run !== null) {
    const made = data.type === 'test.finished' ? wholeRun : startAnnotation;
    return { request: made(event, channel, data.run, ctx.publicUrl) };
  }
  const verdict = classifyGrafana(response, sent.method);
  if (verdict.kind !== 'delivered' || sent.method !== 'POST') return { end: verdict };
  const id = annotationId(response.body);
  if (id === null) return { end: { kind: 'permanent', reason: `HTTP ${response.status}: ${NOT_GRAFANA}` } };
  // Kept after the end too: a redelivered end patches the same annotation instead of adding
  // one. Retention forgets it, as it does the deliveries.
  return data.run === null ? { end: verdict } : { end: verdict, remember: id };
}

export const grafanaChannel: ChannelType = {
  type: 'grafana',
  label: 'Grafana annotations',
  description:
    'A region annotation on your Grafana dashboards covering each run: made at its start, closed at its end with the result and figures.',
  mark: 'Gf',
  urlHelp: {
    placeholder: 'https://grafana.example.com',
    hint: 'Grafana’s address, as you open it in the browser (with its sub-path, if it has one). loadnotify calls its /api/annotations.',
  },
  config: {
    schema: GrafanaConfig,
    fields: {
      token: {
        label: 'Service account token',
        placeholder: 'glsa_…',
        hint: 'In Grafana: Administration → Users and access → Service accounts; a service account with the Editor role (or edit rights on the dashboard), then Add service account token. Write-only.',
      },
      dashboard_uid: {
        label: 'Dashboard UID (optional)',
        placeholder: 'cLV5GDCkz',
        hint: 'Shows the annotations on this dashboard only: the part after /d/ in its address. Left empty, they are organization annotations, shown on any dashboard whose annotation query asks for the loadnotify tag.',
      },
      panel_id: {
        label: 'Panel ID (optional)',
        hint: 'With a dashboard UID: only this panel of it shows them (the viewPanel number in a panel’s link).',
      },
      tags: {
        label: 'Extra tags (optional)',
        placeholder: 'env:staging, team:checkout',
        hint: 'Added to every annotation, separated by commas (up to 10). loadnotify always tags loadnotify, load-test:…, project:…, trigger:… and, at the end, result:….',
      },
    },
    secret: ['token'],
    // The Authorization header holds the token as it is (`Bearer <token>`): the log hides it as
    // a secret value, showing `Bearer ****`; nothing derived needs hiding besides.
    check: checkGrafanaConfig,
  },
  checkUrl: checkGrafanaUrl,
  render,
  classify: (response) => classifyGrafana(response),
  stateKey: (event) => (event.data.run ? `run:${event.data.run.run_id}` : null),
  next,
};
