/**
 * The webhook body of the k6 Cloud / LoadImpact notification documents. Receivers written
 * against those documents parse it, so the keys, their order and their meaning are fixed.
 */
import type { RunComparison } from './comparison.js';
import type { AlertSnapshot, EventData, RunSummary } from './events.js';
import { runUrl } from './message.js';
import { contextLinks, type RunContext } from './run-context.js';
import { statusCode } from './run-status.js';
import type { RunResult, RunStatus, StatusScheme, Trigger } from './run-status.js';

export interface RunEventPayload {
  status: number;
  status_text: string;
  user_id: number | null;
  /** The load test's name, as in the documents' example ("Load test"). */
  name: string;
  organization_id: number;
  load_test_id: number;
  load_test_run_id: number;
  project_id: number;
  event: 'test.started' | 'test.finished';
}

export interface TestEventPayload {
  event: 'test.notification_channel';
}

/**
 * An operator alert (not in the documents: receivers of theirs never get one unless the
 * organization makes their channel its operations channel).
 */
export interface AlertEventPayload {
  event: 'notification_channel.alert';
  alert: AlertSnapshot;
}

export type DocumentedPayload = RunEventPayload | TestEventPayload | AlertEventPayload;

/**
 * Built as one object literal in the documents' key order: JSON.stringify keeps insertion
 * order, and some receivers compare bodies as text.
 */
export function documentedPayload(event: EventData, scheme: StatusScheme): DocumentedPayload {
  if (event.type === 'test.notification_channel') return { event: event.type };
  if (event.type === 'notification_channel.alert') return { event: event.type, alert: event.alert };
  const { run } = event;
  const { code, text } = statusCode(scheme, run.status, run.result);
  return {
    status: code,
    status_text: text,
    user_id: run.user_id,
    name: run.load_test_name,
    organization_id: run.organization_id,
    load_test_id: run.load_test_id,
    load_test_run_id: run.run_id,
    project_id: run.project_id,
    event: event.type,
  };
}

/** `payload_version` of a webhook: the documents' body in either numbering, or that plus more. */
export const PAYLOAD_VERSIONS = ['k6', 'loadimpact-v3', 'extended'] as const;
export type PayloadVersion = (typeof PAYLOAD_VERSIONS)[number];

/** The documents' nine keys first, unchanged, then what receivers of ours can rely on besides. */
export interface ExtendedRunPayload extends RunEventPayload {
  /** The run's status by name (`finished`, `timed_out`, ...), whatever the numbering. */
  run_status: RunStatus;
  result: RunResult | null;
  trigger: Trigger;
  load_test_name: string;
  project_name: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  duration_seconds: number | null;
  /** The runner's headline figures, or null when it sent none. */
  summary: RunSummary | null;
  /** The figures next to the previous finished run's or the pinned baseline's, or null (comparison.ts). */
  comparison: RunComparison | null;
  /** The run's page in the web app. */
  url: string;
  /** Where the run came from (commit, branch, pull request, CI job, labels), or null when unknown. */
  context: RunContext | null;
  /** The context's links, made only from http(s) addresses; null where none can be made. */
  context_links: { commit: string | null; pull_request: string | null; job: string | null };
}

export type ExtendedPayload = ExtendedRunPayload | TestEventPayload | AlertEventPayload;

export function extendedPayload(event: EventData, scheme: StatusScheme, publicUrl: string): ExtendedPayload {
  if (event.type === 'test.notification_channel') return { event: event.type };
  if (event.type === 'notification_channel.alert') return { event: event.type, alert: event.alert };
  const documented = documentedPayload(event, scheme) as RunEventPayload;
  const { run } = event;
  const links = contextLinks(run.context);
  const duration =
    run.started_at && run.ended_at ? (Date.parse(run.ended_at) - Date.parse(run.started_at)) / 1000 : null;
  return {
    ...documented,
    run_status: run.status,
    result: run.result,
    trigger: run.trigger,
    load_test_name: run.load_test_name,
    project_name: run.project_name,
    created_at: run.created_at,
    started_at: run.started_at,
    ended_at: run.ended_at,
    duration_seconds: duration !== null && Number.isFinite(duration) ? duration : null,
    summary: run.summary,
    comparison: run.comparison ?? null,
    url: runUrl(publicUrl, run.run_id),
    context: run.context ?? null,
    context_links: {
      commit: links.commit?.url ?? null,
      pull_request: links.pullRequest?.url ?? null,
      job: links.job?.url ?? null,
    },
  };
}
