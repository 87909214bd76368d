/**
 * k6 Cloud's notification event identifiers (its "Notification event" dropdown) and exactly
 * which runs each one means here, in API.md's statuses, results and triggers. A channel may
 * list several (`event_types`) instead of the `events` object; a run still notifies at most
 * twice (start, end), and the first identifier of the channel's list that matched is the one
 * a template sees as `event.type`.
 *
 * The mapping, one line per identifier:
 * - test.started.manual      `test.started` of a run not started by a schedule (trigger
 *                            `manual` or `api`: k6 Cloud knew only scheduled or not, its
 *                            `test.was_scheduled`).
 * - test.started.scheduled   `test.started` of a run with trigger `scheduled`.
 * - test.finished.finished   `test.finished` with status `finished`, whatever its result.
 * - test.finished.success    `test.finished` with status `finished` and result `passed`
 *                            (thresholds included: a run passes only when they held).
 * - test.finished.failed     `test.finished` whose result is `failed` as the `results` filter
 *                            reads it (effectiveResult): thresholds failed (finished/failed,
 *                            aborted_by_threshold), and every run that timed out or was
 *                            aborted without a verdict, since it did not pass either. It is
 *                            API.md's "only on failure", `results: ["failed"]`, and the runs
 *                            whose `test.result` is 1.
 * - test.finished.timed_out  status `timed_out`.
 * - test.finished.aborted_user / _system / _script_error / _threshold / _limit
 *                            status `aborted_by_user` / `aborted_by_system` /
 *                            `aborted_by_script_error` / `aborted_by_threshold` /
 *                            `aborted_by_limit`.
 * The `test.finished.*` identifiers hear runs of every trigger.
 */
import type { EventData, RunSnapshot } from './events.js';
import type { ChannelEvents } from './filters.js';
import {
  effectiveResult,
  RESULTS_FOR,
  TERMINAL_STATUSES,
  type RunResult,
  type TerminalStatus,
} from './run-status.js';

export const K6CLOUD_EVENT_TYPES = [
  'test.started.manual',
  'test.started.scheduled',
  'test.finished.finished',
  'test.finished.success',
  'test.finished.failed',
  'test.finished.timed_out',
  'test.finished.aborted_user',
  'test.finished.aborted_system',
  'test.finished.aborted_script_error',
  'test.finished.aborted_threshold',
  'test.finished.aborted_limit',
] as const;
export type K6CloudEventType = (typeof K6CLOUD_EVENT_TYPES)[number];

/** `event.type` of a channel that uses the `events` object rather than identifiers. */
export const ANY_EVENT_TYPE = '<any>';

/** `event.text`: each identifier in words, as k6 Cloud's dropdown read. */
export const K6CLOUD_EVENT_TEXT: Record<K6CloudEventType | typeof ANY_EVENT_TYPE, string> = {
  'test.started.manual': 'Test started manually',
  'test.started.scheduled': 'Scheduled test started',
  'test.finished.finished': 'Test finished',
  'test.finished.success': 'Test passed',
  'test.finished.failed': 'Test failed',
  'test.finished.timed_out': 'Test timed out',
  'test.finished.aborted_user': 'Test aborted by user',
  'test.finished.aborted_system': 'Test aborted by system',
  'test.finished.aborted_script_error': 'Test aborted by script error',
  'test.finished.aborted_threshold': 'Test aborted by threshold',
  'test.finished.aborted_limit': 'Test aborted by limit',
  [ANY_EVENT_TYPE]: 'Unknown',
};

export function isK6CloudEventType(value: string): value is K6CloudEventType {
  return (K6CLOUD_EVENT_TYPES as readonly string[]).includes(value);
}

const STATUS_OF: Partial<Record<K6CloudEventType, TerminalStatus>> = {
  'test.finished.finished': 'finished',
  'test.finished.timed_out': 'timed_out',
  'test.finished.aborted_user': 'aborted_by_user',
  'test.finished.aborted_system': 'aborted_by_system',
  'test.finished.aborted_script_error': 'aborted_by_script_error',
  'test.finished.aborted_threshold': 'aborted_by_threshold',
  'test.finished.aborted_limit': 'aborted_by_limit',
};

type Ended = Pick<RunSnapshot, 'status' | 'result'>;

/** Whether a finished run is one that `id` (a `test.finished.*` identifier) means. */
function endMatches(id: K6CloudEventType, run: Ended): boolean {
  if (id === 'test.finished.success') return run.status === 'finished' && run.result === 'passed';
  if (id === 'test.finished.failed') return effectiveResult(run) === 'failed';
  return STATUS_OF[id] === run.status;
}

/** Whether the event is one that `id` means (the Test Hook is none of them). */
export function k6CloudEventMatches(id: K6CloudEventType, event: EventData): boolean {
  if (event.run === null) return false;
  const { run } = event;
  if (event.type === 'test.started') {
    if (id === 'test.started.scheduled') return run.trigger === 'scheduled';
    if (id === 'test.started.manual') return run.trigger !== 'scheduled';
    return false;
  }
  return id.startsWith('test.finished.') && endMatches(id, run);
}

/** The first identifier of `list` that the event matches, or null when none does. */
export function firstMatchingEventType(
  list: readonly K6CloudEventType[],
  event: EventData,
): K6CloudEventType | null {
  return list.find((id) => k6CloudEventMatches(id, event)) ?? null;
}

/** Every way a run can end: each terminal status with each result the `results` filter sees. */
const ENDINGS: readonly Ended[] = TERMINAL_STATUSES.flatMap((status) =>
  RESULTS_FOR[status].map((result): Ended => ({ status, result })),
);

/**
 * The `events` object that hears what `list` hears, shown beside `event_types` when a channel
 * is read. Starts are always exact. For ends, the `events` object can only say "these statuses
 * AND these results": when the identifiers' runs are such a set it is exact (`exact: true`);
 * otherwise (e.g. success with timed_out) it is the smallest such set that covers them, and
 * the identifiers alone decide.
 */
export function eventsForTypes(list: readonly K6CloudEventType[]): { events: ChannelEvents; exact: boolean } {
  const manual = list.includes('test.started.manual');
  const scheduled = list.includes('test.started.scheduled');
  const heard = ENDINGS.filter((run) =>
    list.some((id) => id.startsWith('test.finished.') && endMatches(id, run)),
  );
  const statuses = [...new Set(heard.map((r) => r.status))];
  const results = [...new Set(heard.map((r) => effectiveResult(r) as RunResult))];
  const covered = ENDINGS.filter(
    (r) => statuses.includes(r.status as TerminalStatus) && results.includes(effectiveResult(r) as RunResult),
  );
  const all = <T>(some: T[], every: readonly T[]) => (some.length === every.length ? [] : some);
  const events: ChannelEvents = {
    'test.started': {
      enabled: manual || scheduled,
      triggers: manual && scheduled ? [] : manual ? ['manual', 'api'] : scheduled ? ['scheduled'] : [],
    },
    'test.finished': {
      enabled: heard.length > 0,
      triggers: [],
      statuses: all(statuses, TERMINAL_STATUSES),
      results: all(
        results,
        [...new Set(ENDINGS.map((r) => effectiveResult(r)))].filter((r) => r !== null),
      ),
    },
  };
  return { events, exact: covered.length === heard.length };
}
