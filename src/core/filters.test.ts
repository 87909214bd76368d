import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runSnapshot } from './run-snapshot.fixture.js';
import type { EventData, RunSnapshot } from './events.js';
import { DEFAULT_CHANNEL_EVENTS, ONLY_FAILURES, channelMatches, effectiveResult } from './filters.js';
import type { ChannelEvents, ChannelFilter } from './filters.js';
import { RUN_RESULTS, TERMINAL_STATUSES, TRIGGERS } from './run-status.js';
import type { RunResult, RunStatus, TerminalStatus, Trigger } from './run-status.js';

const snapshot = runSnapshot;

const started = (over: Partial<RunSnapshot> = {}): EventData => ({
  type: 'test.started',
  run: snapshot(over),
});
const finished = (
  status: TerminalStatus,
  result: RunResult | null,
  over: Partial<RunSnapshot> = {},
): EventData => ({
  type: 'test.finished',
  run: snapshot({ status, result, ...over }),
});
const testEvent: EventData = { type: 'test.notification_channel', run: null };

function channel(over: Partial<ChannelFilter> = {}, events: Partial<ChannelEvents> = {}): ChannelFilter {
  return {
    enabled: true,
    project_ids: null,
    ...over,
    events: { ...structuredClone(DEFAULT_CHANNEL_EVENTS), ...events },
  };
}

const finishedRule = (rule: Partial<ChannelEvents['test.finished']>): Partial<ChannelEvents> => ({
  'test.finished': { enabled: true, triggers: [], statuses: [], results: [], ...rule },
});

describe('channelMatches', () => {
  it('the default channel hears both events', () => {
    expect(channelMatches(started(), channel())).toBe(true);
    expect(channelMatches(finished('finished', 'passed'), channel())).toBe(true);
  });

  it('a disabled channel hears no run event', () => {
    expect(channelMatches(started(), channel({ enabled: false }))).toBe(false);
    expect(channelMatches(finished('timed_out', null), channel({ enabled: false }))).toBe(false);
  });

  it('the Test Hook bypasses every filter, even enabled', () => {
    const closed = channel(
      { enabled: false, project_ids: [] },
      { 'test.started': { enabled: false, triggers: ['api'] }, ...finishedRule({ enabled: false }) },
    );
    expect(channelMatches(testEvent, closed)).toBe(true);
  });

  it('each event type can be switched off on its own', () => {
    const noStart = channel({}, { 'test.started': { enabled: false, triggers: [] } });
    expect(channelMatches(started(), noStart)).toBe(false);
    expect(channelMatches(finished('finished', 'passed'), noStart)).toBe(true);
    const noFinish = channel({}, finishedRule({ enabled: false }));
    expect(channelMatches(started(), noFinish)).toBe(true);
    expect(channelMatches(finished('finished', 'passed'), noFinish)).toBe(false);
  });

  it.each([
    [null, 3, true],
    [[3], 3, true],
    [[1, 2], 3, false],
    [[], 3, false],
  ] as const)('project_ids %j, run in project %i -> %s', (ids, project, expected) => {
    const c = channel({ project_ids: ids === null ? null : [...ids] });
    expect(channelMatches(started({ project_id: project }), c)).toBe(expected);
    expect(channelMatches(finished('finished', 'passed', { project_id: project }), c)).toBe(expected);
  });

  it.each([
    [[], 'api', true],
    [['manual', 'scheduled'], 'manual', true],
    [['manual', 'scheduled'], 'scheduled', true],
    [['manual', 'scheduled'], 'api', false],
  ] as const)('triggers %j, run triggered %s -> %s', (triggers, trigger, expected) => {
    const startOnly = channel({}, { 'test.started': { enabled: true, triggers: [...triggers] } });
    expect(channelMatches(started({ trigger }), startOnly)).toBe(expected);
    const finishOnly = channel({}, finishedRule({ triggers: [...triggers] }));
    expect(channelMatches(finished('finished', 'passed', { trigger }), finishOnly)).toBe(expected);
  });

  it.each([
    [[], 'finished', 'passed', true],
    [['finished'], 'finished', 'failed', true],
    [['finished'], 'aborted_by_user', null, false],
    [['timed_out', 'aborted_by_system'], 'aborted_by_system', null, true],
  ] as const)('statuses %j, run %s/%s -> %s', (statuses, status, result, expected) => {
    const c = channel({}, finishedRule({ statuses: [...statuses] }));
    expect(channelMatches(finished(status, result), c)).toBe(expected);
  });

  it.each([
    [[], 'finished', 'passed', true],
    [['failed'], 'finished', 'passed', false],
    [['failed'], 'finished', 'failed', true],
    [['failed'], 'aborted_by_threshold', 'failed', true],
    [['failed'], 'aborted_by_user', null, true],
    [['failed'], 'aborted_by_user', 'passed', false],
    [['passed'], 'timed_out', null, false],
    [['passed'], 'finished', 'passed', true],
  ] as const)('results %j, run %s/%s -> %s', (results, status, result, expected) => {
    const c = channel({}, finishedRule({ results: [...results] }));
    expect(channelMatches(finished(status, result), c)).toBe(expected);
  });

  it('statuses and results filter test.finished only', () => {
    const c = channel({}, finishedRule({ statuses: ['timed_out'], results: ['failed'] }));
    expect(channelMatches(started(), c)).toBe(true);
  });

  it('"only failures" as ONLY_FAILURES statuses skips finished runs, failed or not', () => {
    const c = channel({}, finishedRule({ statuses: [...ONLY_FAILURES] }));
    expect(channelMatches(finished('finished', 'passed'), c)).toBe(false);
    expect(channelMatches(finished('finished', 'failed'), c)).toBe(false);
    for (const status of ONLY_FAILURES) expect(channelMatches(finished(status, null), c)).toBe(true);
  });

  it('ONLY_FAILURES is every terminal status but finished', () => {
    expect([...ONLY_FAILURES].sort()).toEqual(TERMINAL_STATUSES.filter((s) => s !== 'finished').sort());
  });
});

describe('effectiveResult', () => {
  it.each([
    ['running', null, null],
    ['finished', 'passed', 'passed'],
    ['finished', null, null],
    ['timed_out', null, 'failed'],
    ['aborted_by_user', 'passed', 'passed'],
  ] as const)('%s/%s -> %s', (status, result, expected) => {
    expect(effectiveResult({ status: status as RunStatus, result })).toBe(expected);
  });
});

describe('channelMatches properties', () => {
  const triggerArb = fc.constantFrom<Trigger>(...TRIGGERS);
  const terminalArb = fc.constantFrom<TerminalStatus>(...TERMINAL_STATUSES);
  const resultArb = fc.option(fc.constantFrom<RunResult>(...RUN_RESULTS), { nil: null });
  const eventArb: fc.Arbitrary<EventData> = fc.oneof(
    fc.record({ trigger: triggerArb, project_id: fc.nat() }).map((o) => started(o)),
    fc
      .record({ status: terminalArb, result: resultArb, trigger: triggerArb, project_id: fc.nat() })
      .map(({ status, result, ...o }) => finished(status, result, o)),
  );
  const channelArb: fc.Arbitrary<ChannelFilter> = fc.record({
    enabled: fc.boolean(),
    project_ids: fc.option(fc.array(fc.nat({ max: 5 })), { nil: null }),
    events: fc.record({
      'test.started': fc.record({ enabled: fc.boolean(), triggers: fc.subarray([...TRIGGERS]) }),
      'test.finished': fc.record({
        enabled: fc.boolean(),
        triggers: fc.subarray([...TRIGGERS]),
        statuses: fc.subarray<RunStatus>([...TERMINAL_STATUSES]),
        results: fc.subarray([...RUN_RESULTS]),
      }),
    }),
  });

  it('empty lists and null projects match every run event', () => {
    fc.assert(
      fc.property(eventArb, (event) => {
        expect(channelMatches(event, channel())).toBe(true);
      }),
    );
  });

  it('a disabled channel never matches a run event', () => {
    fc.assert(
      fc.property(eventArb, channelArb, (event, c) => {
        expect(channelMatches(event, { ...c, enabled: false })).toBe(false);
      }),
    );
  });

  it('the Test Hook always matches', () => {
    fc.assert(
      fc.property(channelArb, (c) => {
        expect(channelMatches(testEvent, c)).toBe(true);
      }),
    );
  });

  it('adding a value to a non-empty list never removes a match', () => {
    fc.assert(
      fc.property(eventArb, channelArb, triggerArb, (event, c, extra) => {
        const rule = c.events['test.finished'];
        if (!channelMatches(event, c) || rule.triggers.length === 0 || rule.triggers.includes(extra)) return;
        const widened = structuredClone(c);
        widened.events['test.finished'].triggers.push(extra);
        expect(channelMatches(event, widened)).toBe(true);
      }),
    );
  });
});
