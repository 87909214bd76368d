/**
 * One neutral message for people, built once per event and rendered by each chat channel in
 * its own format (Slack attachment, HipChat HTML, ...). Text here is plain and unescaped: each
 * channel escapes for its own format.
 */
import type { FigureDelta, RunComparison } from './comparison.js';
import type { AlertSnapshot, EventData, RunSnapshot, RunSummary } from './events.js';
import { contextLinks, type RunContext } from './run-context.js';
import { outcomeChange } from './run-change.js';
import { statusCode } from './run-status.js';
import type { Trigger } from './run-status.js';

export type MessageColor = 'good' | 'warning' | 'danger' | 'neutral';

export interface MessageFact {
  label: string;
  value: string;
  /** Where the value links to (a commit, a CI job): always an http(s) URL; channels that can, link it. */
  url?: string;
}

export interface Message {
  title: string;
  /** One line, for notification previews and the services' plain-text fallbacks. */
  summary: string;
  facts: MessageFact[];
  /**
   * good: finished and passed. danger: thresholds failed, timed out or aborted (any cause:
   * the run did not give the answer it was started for). neutral: a run starting and the Test
   * Hook; a start is not an outcome, and a yellow bar on every start would teach people to
   * ignore yellow. warning is kept for channels' own use (nothing here yields it today).
   */
  color: MessageColor;
  link: { url: string; text: string } | null;
}

/** Names are user text; this bounds what one name can add to a message. */
export const MAX_NAME_CHARS = 200;

type RunEvent = Extract<EventData, { run: RunSnapshot }>;

const TRIGGER_LABELS: Record<Trigger, string> = { manual: 'Manual', scheduled: 'Scheduled', api: 'API' };

/**
 * Cuts `text` to at most `max` characters, ending in "…". It never splits a surrogate pair or
 * an HTML entity such as `&amp;`, so it is safe on text a channel has already escaped.
 */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  cut = cut.replace(/&#?[a-z0-9]*$/i, '');
  return `${cut}…`;
}

/** Newlines in a name would break the one-line summary and some services' layouts. */
export function oneLine(text: string): string {
  return truncateText(text.replace(/\s+/g, ' ').trim(), MAX_NAME_CHARS);
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const parts = [h ? `${h}h` : '', m ? `${m}m` : '', s || total === 0 ? `${s}s` : ''];
  return parts.filter(Boolean).join(' ');
}

const isNumber = (value: number | null | undefined): value is number =>
  typeof value === 'number' && Number.isFinite(value);

const percent = (ratio: number) => `${(ratio * 100).toFixed(2)}%`;
const ms = (value: number) => `${Number(value.toFixed(value < 100 ? 1 : 0))} ms`;
const perSecond = (value: number) => `${Number(value.toFixed(value < 100 ? 1 : 0))}/s`;

/** "+18%", "-3.5%", "±0%"; rates that were 0 have no percent: their change in points instead. */
function change(delta: FigureDelta | undefined, ratio: boolean): string {
  if (!delta) return '';
  const sign = (n: number) => (n > 0 ? '+' : n < 0 ? '-' : '±');
  if (delta.delta_percent !== null && !ratio) return `${sign(delta.delta)}${Math.abs(delta.delta_percent)}%`;
  if (ratio) return `${sign(delta.delta)}${Math.abs(Number((delta.delta * 100).toFixed(2)))} pts`;
  return '';
}

/** A figure, and when compared its change: "412 ms, +18% vs run #41". */
function figure(
  label: string,
  value: string,
  delta: FigureDelta | undefined,
  ratio: boolean,
  against: string,
) {
  const changed = change(delta, ratio);
  return { label, value: changed ? `${value}, ${changed} vs ${against}` : value };
}

function figures(summary: RunSummary | null, comparison: RunComparison | null | undefined): MessageFact[] {
  if (!summary) return [];
  const facts: MessageFact[] = [];
  const compared = comparison?.figures ?? {};
  const against = comparison
    ? `${comparison.against === 'baseline' ? 'baseline ' : ''}run #${comparison.run_id}`
    : '';
  if (isNumber(summary.requests)) {
    facts.push({ label: 'Requests', value: Math.round(summary.requests).toLocaleString('en-US') });
  }
  const rate = compared.request_rate?.value ?? summary.request_rate;
  if (isNumber(rate))
    facts.push(figure('Request rate', perSecond(rate), compared.request_rate, false, against));
  if (isNumber(summary.failure_rate)) {
    facts.push(figure('Failure rate', percent(summary.failure_rate), compared.failure_rate, true, against));
  }
  if (isNumber(summary.checks))
    facts.push(figure('Checks', percent(summary.checks), compared.checks, true, against));
  if (isNumber(summary.p95_ms))
    facts.push(figure('p95', ms(summary.p95_ms), compared.p95_ms, false, against));
  return facts;
}

/** The commit, branch, pull request and CI job the run came from, and its labels. */
function contextFacts(context: RunContext | null | undefined): MessageFact[] {
  const links = contextLinks(context);
  const facts: MessageFact[] = [];
  const linked = (label: string, link: { text: string; url: string | null } | null) => {
    if (link) facts.push({ label, value: oneLine(link.text), ...(link.url ? { url: link.url } : {}) });
  };
  linked('Commit', links.commit);
  if (links.branch) facts.push({ label: 'Branch', value: oneLine(links.branch) });
  linked('Pull request', links.pullRequest);
  linked('CI job', links.job);
  if (links.labels.length) {
    facts.push({ label: 'Labels', value: oneLine(links.labels.map(([k, v]) => `${k}=${v}`).join(', ')) });
  }
  return facts;
}

function durationMs(run: RunSnapshot): number | null {
  if (!run.started_at || !run.ended_at) return null;
  const ms = Date.parse(run.ended_at) - Date.parse(run.started_at);
  return Number.isFinite(ms) ? ms : null;
}

/** What happened, as the end of a sentence: "started", "passed", "timed out", ... */
function headline(event: RunEvent): string {
  const { run } = event;
  if (event.type === 'test.started') return 'started';
  if (run.status === 'finished') {
    if (run.result === 'passed') return 'passed';
    if (run.result === 'failed') return 'failed its thresholds';
    return 'finished';
  }
  return statusCode('k6', run.status, run.result).text.toLowerCase();
}

function colorOf(event: RunEvent): MessageColor {
  if (event.type === 'test.started') return 'neutral';
  const { status, result } = event.run;
  if (status !== 'finished' || result === 'failed') return 'danger';
  return result === 'passed' ? 'good' : 'neutral';
}

export function runUrl(publicUrl: string, runId: number): string {
  return `${publicUrl.replace(/\/+$/, '')}/runs/${runId}`;
}

export function buildMessage(event: EventData, publicUrl: string): Message {
  if (event.type === 'notification_channel.alert') return alertMessage(event.alert);
  if (event.type === 'test.notification_channel') {
    return {
      title: 'Test notification from loadnotify',
      summary: 'This is a test notification from loadnotify: if you can read it, this channel works.',
      facts: [],
      color: 'neutral',
      link: null,
    };
  }
  const { run } = event;
  const name = oneLine(run.load_test_name);
  const project = oneLine(run.project_name);
  const change = event.type === 'test.finished' ? outcomeChange(run) : null;
  // "broke (failed its thresholds)": the change from the previous run first, what happened after.
  const what = change ? `${change} (${headline(event)})` : headline(event);
  const duration = durationMs(run);
  const numbers = figures(run.summary, run.comparison);

  const facts: MessageFact[] = [
    { label: 'Test', value: name },
    { label: 'Project', value: project },
    { label: 'Status', value: statusCode('k6', run.status, run.result).text },
  ];
  if (run.result) facts.push({ label: 'Result', value: run.result === 'passed' ? 'Passed' : 'Failed' });
  facts.push({ label: 'Trigger', value: TRIGGER_LABELS[run.trigger] });
  if (duration !== null) facts.push({ label: 'Duration', value: formatDuration(duration) });
  facts.push(...numbers);
  facts.push(...contextFacts(run.context));

  const after =
    duration !== null && event.type === 'test.finished' ? ` after ${formatDuration(duration)}` : '';
  const detail = numbers.length ? ` (${numbers.map((f) => `${f.label} ${f.value}`).join(', ')})` : '';
  return {
    title: `${name}: run #${run.run_id} ${what}`,
    summary: `${name} in ${project}: run #${run.run_id} ${what}${after}${detail}.`,
    facts,
    color: colorOf(event),
    link: { url: runUrl(publicUrl, run.run_id), text: `View run #${run.run_id}` },
  };
}

/** What an operator alert says: which channel, what happened to it, why, and where to look. */
export function alertMessage(alert: AlertSnapshot): Message {
  const name = oneLine(alert.channel.name);
  const what =
    alert.kind === 'disabled'
      ? `channel "${name}" was disabled`
      : alert.count === 1
        ? `a delivery to channel "${name}" failed`
        : `${alert.count} deliveries to channel "${name}" failed`;
  const title = `loadnotify: ${what}`;
  return {
    title,
    summary: `${what[0]!.toUpperCase()}${what.slice(1)}: ${oneLine(alert.reason)}`,
    facts: [
      { label: 'Channel', value: `${name} (${alert.channel.type})` },
      { label: 'Reason', value: oneLine(alert.reason) },
      ...(alert.kind === 'gave_up' ? [{ label: 'Failed deliveries', value: String(alert.count) }] : []),
    ],
    color: 'danger',
    link: { url: alert.channel.url, text: `Open channel "${name}"` },
  };
}
