import { describe, expect, it } from 'vitest';
import type { EventData } from './events.js';
import { channelMatches, DEFAULT_CHANNEL_EVENTS, type ChannelFilter } from './filters.js';
import {
  eventsForTypes,
  firstMatchingEventType,
  K6CLOUD_EVENT_TYPES,
  k6CloudEventMatches,
  type K6CloudEventType,
} from './k6cloud-events.js';
import { runSnapshot } from './run-snapshot.fixture.js';
import {
  RESULTS_FOR,
  TERMINAL_STATUSES,
  TRIGGERS,
  type RunResult,
  type TerminalStatus,
  type Trigger,
} from './run-status.js';

const started = (trigger: Trigger): EventData => ({ type: 'test.started', run: runSnapshot({ trigger }) });
const ended = (status: TerminalStatus, result: RunResult | null, trigger: Trigger = 'manual'): EventData => ({
  type: 'test.finished',
  run: runSnapshot({ status, result, trigger }),
});

/**
 * Every end a run can have: each terminal status with each result it may carry, or none (a
 * finished run always has one: transition() makes it passed).
 */
const ENDS = TERMINAL_STATUSES.flatMap((status) =>
  [...RESULTS_FOR[status], ...(status === 'finished' ? [] : [null])].map((result) => ({ status, result })),
);

/** The table of k6cloud-events.ts, as the identifiers that match each run event. */
function matching(event: EventData): K6CloudEventType[] {
  return K6CLOUD_EVENT_TYPES.filter((id) => k6CloudEventMatches(id, event));
}

describe("k6 Cloud's event identifiers", () => {
  it('a start is manual or scheduled: an API-started run is not scheduled', () => {
    expect(matching(started('manual'))).toEqual(['test.started.manual']);
    expect(matching(started('api'))).toEqual(['test.started.manual']);
    expect(matching(started('scheduled'))).toEqual(['test.started.scheduled']);
  });

  it.each([
    ['finished', 'passed', ['test.finished.finished', 'test.finished.success']],
    ['finished', 'failed', ['test.finished.finished', 'test.finished.failed']],
    ['timed_out', null, ['test.finished.failed', 'test.finished.timed_out']],
    ['timed_out', 'failed', ['test.finished.failed', 'test.finished.timed_out']],
    ['aborted_by_user', null, ['test.finished.failed', 'test.finished.aborted_user']],
    ['aborted_by_system', null, ['test.finished.failed', 'test.finished.aborted_system']],
    ['aborted_by_script_error', null, ['test.finished.failed', 'test.finished.aborted_script_error']],
    ['aborted_by_threshold', 'failed', ['test.finished.failed', 'test.finished.aborted_threshold']],
    ['aborted_by_limit', null, ['test.finished.failed', 'test.finished.aborted_limit']],
  ] as const)('a run that ended %s with result %s is %j', (status, result, ids) => {
    for (const trigger of TRIGGERS) expect(matching(ended(status, result, trigger))).toEqual(ids);
  });

  it('the Test Hook is none of them', () => {
    expect(matching({ type: 'test.notification_channel', run: null })).toEqual([]);
  });

  it("event.type is the first of the channel's list that matched", () => {
    const list: K6CloudEventType[] = [
      'test.finished.aborted_user',
      'test.finished.failed',
      'test.finished.finished',
    ];
    expect(firstMatchingEventType(list, ended('aborted_by_user', null))).toBe('test.finished.aborted_user');
    expect(firstMatchingEventType(list, ended('finished', 'failed'))).toBe('test.finished.failed');
    expect(firstMatchingEventType(list, ended('finished', 'passed'))).toBe('test.finished.finished');
    expect(firstMatchingEventType(list, started('manual'))).toBeNull();
  });

  it('a channel with identifiers hears exactly the events they match, once each', () => {
    const filter = (event_types: K6CloudEventType[]): ChannelFilter => ({
      enabled: true,
      project_ids: null,
      events: DEFAULT_CHANNEL_EVENTS,
      event_types,
    });
    const failedOnly = filter(['test.finished.failed']);
    expect(channelMatches(ended('finished', 'failed'), failedOnly)).toBe(true);
    expect(channelMatches(ended('finished', 'passed'), failedOnly)).toBe(false);
    expect(channelMatches(started('manual'), failedOnly)).toBe(false);
    expect(channelMatches(started('scheduled'), filter(['test.started.manual']))).toBe(false);
    expect(channelMatches(started('scheduled'), filter(['test.started.scheduled']))).toBe(true);
  });

  it('the events object shown beside the identifiers hears the same runs when it can say so', () => {
    const lists: K6CloudEventType[][] = [
      ...K6CLOUD_EVENT_TYPES.map((id) => [id]),
      ['test.finished.success', 'test.finished.failed'],
      ['test.finished.failed', 'test.finished.aborted_user'],
      ['test.started.manual', 'test.finished.success', 'test.finished.timed_out'],
      ['test.finished.timed_out', 'test.finished.aborted_limit'],
    ];
    for (const list of lists) {
      const { events, exact } = eventsForTypes(list);
      const withTypes: ChannelFilter = { enabled: true, project_ids: null, events, event_types: list };
      const withEvents: ChannelFilter = { enabled: true, project_ids: null, events };
      const all = [
        ...TRIGGERS.map(started),
        ...ENDS.flatMap((e) => TRIGGERS.map((t) => ended(e.status, e.result, t))),
      ];
      for (const event of all) {
        const byTypes = channelMatches(event, withTypes);
        const byEvents = channelMatches(event, withEvents);
        // Never narrower; the same when exact.
        if (byTypes) expect(byEvents, `${JSON.stringify(list)} ${JSON.stringify(event)}`).toBe(true);
        if (exact) expect(byEvents, `${JSON.stringify(list)} ${JSON.stringify(event)}`).toBe(byTypes);
      }
    }
    expect(eventsForTypes(['test.finished.failed']).events['test.finished']).toEqual({
      enabled: true,
      triggers: [],
      statuses: [],
      results: ['failed'],
    });
    expect(eventsForTypes(['test.finished.success', 'test.finished.timed_out']).exact).toBe(false);
    expect(eventsForTypes(['test.started.manual']).events['test.started']).toEqual({
      enabled: true,
      triggers: ['manual', 'api'],
    });
  });
});
