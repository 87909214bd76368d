import type { RunComparison } from './comparison.js';
import type { PreviousRun } from './run-change.js';
import type { RunContext } from './run-context.js';
import type { RunResult, RunStatus, Trigger } from './run-status.js';

export const EVENT_TYPES = [
  'test.started',
  'test.finished',
  'test.notification_channel',
  'notification_channel.alert',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Headline figures a runner may report from the tool's summary (k6 --summary-export, ...). */
export interface RunSummary {
  thresholds_passed?: boolean | null;
  thresholds?: Record<string, boolean>;
  requests?: number | null;
  failure_rate?: number | null;
  p95_ms?: number | null;
  /** Requests per second, as the tool counted them (k6's http_reqs rate). */
  request_rate?: number | null;
  /** The share of checks that passed, 0..1 (k6's `checks` rate). */
  checks?: number | null;
  /**
   * What the run reported going wrong (POST /runs/:id/status `errors`), kept with the figures
   * the run reported at its end; shown as the run's and the snapshot's `errors`.
   */
  errors?: RunError[];
  /**
   * How the figures compare with an earlier run's, worked out when the run finished and kept
   * beside them like `errors`; shown as the run's and the snapshot's `comparison`.
   */
  comparison?: RunComparison;
  /** The previous ended run of the load test when this one ended (null: none), kept like `errors`. */
  previous?: PreviousRun | null;
}

/**
 * Something the run reported going wrong (the runner's error lines, a script error's message,
 * an abort reason): k6 Cloud's `errors[]`. `code` is the reporter's own number, if it has one.
 */
export interface RunError {
  code: number | null;
  /** ISO 8601, when it was reported. */
  created: string;
  detail: string;
}

/** Who started a run, as notifications name them. */
export interface RunUser {
  id: number;
  email: string;
}

/**
 * Everything a channel needs to render a run event, frozen at the moment of the status change,
 * so a redelivery a day later sends what was true then.
 */
export interface RunSnapshot {
  run_id: number;
  load_test_id: number;
  load_test_name: string;
  project_id: number;
  project_name: string;
  organization_id: number;
  user_id: number | null;
  trigger: Trigger;
  status: RunStatus;
  result: RunResult | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  summary: RunSummary | null;
  /**
   * The account that started the run (`user_id`), when known: null for scheduled runs and
   * runs whose user is gone. Absent in events recorded before it was kept.
   */
  user?: RunUser | null;
  /** What the run reported going wrong, oldest first; absent or empty when nothing. */
  errors?: RunError[];
  /** Where the run came from: commit, branch, pull request, CI job, labels. Absent or null when unknown. */
  context?: RunContext | null;
  /** The figures next to an earlier run's (see comparison.ts); absent or null when none. */
  comparison?: RunComparison | null;
  /**
   * The previous ended run of the same load test, when this one ended: null for the first run,
   * absent when unknown (events recorded before it was kept). Runs the service itself ends
   * (a crashed server's, a runner that failed) carry it too.
   */
  previous?: PreviousRun | null;
}

/**
 * An operator alert as the organization's operations channel hears it: another of its
 * channels was disabled, or deliveries to it failed for good.
 */
export interface AlertSnapshot {
  id: number;
  /** `disabled`: the channel was switched off; `gave_up`: `count` deliveries failed for good. */
  kind: 'disabled' | 'gave_up';
  organization_id: number;
  channel: { id: number; name: string; type: string; url: string };
  /** The last failure's reason, as the delivery log shows it. */
  reason: string;
  count: number;
  first_at: string;
  last_at: string;
}

export type EventData =
  | { type: 'test.started' | 'test.finished'; run: RunSnapshot }
  | { type: 'test.notification_channel'; run: null }
  | { type: 'notification_channel.alert'; run: null; alert: AlertSnapshot };

/** The events of a run (the others have `run: null`: the Test Hook, operator alerts). */
export type RunEvent = Extract<EventData, { run: RunSnapshot }>;
export type AlertEvent = Extract<EventData, { type: 'notification_channel.alert' }>;

export interface StoredEvent {
  id: number;
  organization_id: number;
  data: EventData;
  created_at: string;
}
