/**
 * Which events reach which channel: API.md's filter rules, decided once when the event is
 * recorded (one delivery row per matching channel).
 */
import type { ComparedFigure, RunComparison } from './comparison.js';
import type { EventData } from './events.js';
import { outcomeChangedOrFirst } from './run-change.js';
import { firstMatchingEventType, type K6CloudEventType } from './k6cloud-events.js';
import { TERMINAL_STATUSES, effectiveResult } from './run-status.js';
import type { RunResult, RunStatus, TerminalStatus, Trigger } from './run-status.js';

export { effectiveResult };

/** Which events reach a channel (API.md's `events` object). Empty lists mean "all". */
export interface ChannelEvents {
  'test.started': { enabled: boolean; triggers: Trigger[] };
  'test.finished': {
    enabled: boolean;
    triggers: Trigger[];
    statuses: RunStatus[];
    results: RunResult[];
    /** Only runs whose outcome differs from the previous ended run's (and the first run). */
    only_changes?: boolean;
    /** Only runs with a compared figure worse than its comparison's by more than this percent. */
    worse_by_percent?: WorseByPercent | null;
  };
}

/** Per compared figure, how many percent worse it may get before the channel hears of it. */
export type WorseByPercent = Partial<Record<ComparedFigure, number>>;

/** Which way is worse for each figure: slower, more failures, fewer requests, fewer checks passing. */
const WORSE_WHEN_HIGHER: Record<ComparedFigure, boolean> = {
  p95_ms: true,
  failure_rate: true,
  request_rate: false,
  checks: false,
};

/**
 * Whether a compared figure got worse by more than its limit. A base of 0 has no percent: any
 * worsening from 0 (a first failure) counts as more than every limit.
 */
export function worseBy(comparison: RunComparison | null | undefined, limits: WorseByPercent): boolean {
  if (!comparison) return false;
  return (Object.keys(limits) as ComparedFigure[]).some((name) => {
    const d = comparison.figures[name];
    const limit = limits[name];
    if (!d || limit === undefined) return false;
    const worse = WORSE_WHEN_HIGHER[name] ? d.delta > 0 : d.delta < 0;
    if (!worse) return false;
    return d.delta_percent === null || Math.abs(d.delta_percent) > limit;
  });
}

export interface ChannelFilter {
  enabled: boolean;
  /** null = every project of the organization; a list, even an empty one, is exactly those. */
  project_ids: number[] | null;
  events: ChannelEvents;
  /**
   * k6 Cloud's identifiers (see k6cloud-events.ts), when the channel was given them instead of
   * the `events` object: then they alone decide which run events reach it. Null or absent: the
   * `events` object decides.
   */
  event_types?: readonly K6CloudEventType[] | null;
}

/** A new channel hears both events of every run; the user narrows from there. */
export const DEFAULT_CHANNEL_EVENTS: ChannelEvents = {
  'test.started': { enabled: true, triggers: [] },
  'test.finished': { enabled: true, triggers: [], statuses: [], results: [] },
};

/**
 * The statuses of a run that ended badly: every terminal status but `finished`.
 *
 * "Only on failure" can be expressed two ways, as API.md says:
 * - `results: ['failed']`: runs whose thresholds failed, plus aborted or timed-out runs that
 *   carry no result (see `effectiveResult`): the broadest "only failures".
 * - `statuses: ONLY_FAILURES`: every run that did not finish normally, whatever its thresholds,
 *   but not a run that finished with failed thresholds.
 * Both lists are ANDed, so combining them narrows rather than widens.
 */
export const ONLY_FAILURES: readonly TerminalStatus[] = TERMINAL_STATUSES.filter((s) => s !== 'finished');

/** An empty list means "all". */
function allows<T>(list: readonly T[], value: T): boolean {
  return list.length === 0 || list.includes(value);
}

export function channelMatches(event: EventData, channel: ChannelFilter): boolean {
  // The Test Hook addresses one channel on purpose (it is how one checks a channel before
  // enabling it), so no filter applies to it, not even `enabled`.
  // So does an operator alert: it is written for the organization's operations channel only.
  if (event.run === null) return true;
  if (!channel.enabled) return false;
  const { run } = event;
  if (channel.project_ids !== null && !channel.project_ids.includes(run.project_id)) return false;
  if (channel.event_types) return firstMatchingEventType(channel.event_types, event) !== null;

  if (event.type === 'test.started') {
    const rule = channel.events['test.started'];
    return rule.enabled && allows(rule.triggers, run.trigger);
  }
  const rule = channel.events['test.finished'];
  if (!rule.enabled || !allows(rule.triggers, run.trigger) || !allows(rule.statuses, run.status))
    return false;
  if (rule.results.length > 0) {
    const result = effectiveResult(run);
    if (result === null || !rule.results.includes(result)) return false;
  }
  // The quiet filters: with either set, the run's end notifies when one of them holds.
  const limits = rule.worse_by_percent ?? null;
  const hasLimits = limits !== null && Object.keys(limits).length > 0;
  if (!rule.only_changes && !hasLimits) return true;
  if (rule.only_changes && outcomeChangedOrFirst(run)) return true;
  return hasLimits && worseBy(run.comparison, limits);
}
