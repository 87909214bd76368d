import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECKOUT, runSnapshot } from './run-snapshot.fixture.js';
import type { EventData, RunSnapshot } from './events.js';
import { MAX_NAME_CHARS, buildMessage, formatDuration, truncateText } from './message.js';
import type { RunResult, TerminalStatus } from './run-status.js';

function snapshot(over: Partial<RunSnapshot> = {}): RunSnapshot {
  return runSnapshot({
    ...CHECKOUT,
    trigger: 'scheduled',
    status: 'running',
    result: null,
    ended_at: null,
    ...over,
  });
}

const ended = { ended_at: '2026-11-23T10:05:08Z' };
const finished = (
  status: TerminalStatus,
  result: RunResult | null,
  over: Partial<RunSnapshot> = {},
): EventData => ({
  type: 'test.finished',
  run: snapshot({ status, result, ...ended, ...over }),
});
const PUBLIC = 'https://loadnotify.example.com';

describe('buildMessage', () => {
  it('a started run: neutral, facts without result or duration, link to the run', () => {
    const message = buildMessage({ type: 'test.started', run: snapshot() }, PUBLIC);
    expect(message).toEqual({
      title: 'Checkout: run #42 started',
      summary: 'Checkout in Shop: run #42 started.',
      facts: [
        { label: 'Test', value: 'Checkout' },
        { label: 'Project', value: 'Shop' },
        { label: 'Status', value: 'Running' },
        { label: 'Trigger', value: 'Scheduled' },
      ],
      color: 'neutral',
      link: { url: 'https://loadnotify.example.com/runs/42', text: 'View run #42' },
    });
  });

  it('a finished run with figures', () => {
    const summary = { requests: 123456, failure_rate: 0.00123, p95_ms: 231.4 };
    const message = buildMessage(finished('finished', 'passed', { summary }), PUBLIC);
    expect(message.title).toBe('Checkout: run #42 passed');
    expect(message.summary).toBe(
      'Checkout in Shop: run #42 passed after 5m 3s (Requests 123,456, Failure rate 0.12%, p95 231 ms).',
    );
    expect(message.facts).toEqual([
      { label: 'Test', value: 'Checkout' },
      { label: 'Project', value: 'Shop' },
      { label: 'Status', value: 'Finished' },
      { label: 'Result', value: 'Passed' },
      { label: 'Trigger', value: 'Scheduled' },
      { label: 'Duration', value: '5m 3s' },
      { label: 'Requests', value: '123,456' },
      { label: 'Failure rate', value: '0.12%' },
      { label: 'p95', value: '231 ms' },
    ]);
  });

  it('leaves out figures that are absent or not numbers', () => {
    const summary = { requests: null, failure_rate: Number.NaN, p95_ms: 12.345 };
    const facts = buildMessage(finished('finished', 'passed', { summary }), PUBLIC).facts.map((f) => f.label);
    expect(facts).not.toContain('Requests');
    expect(facts).not.toContain('Failure rate');
    expect(buildMessage(finished('finished', 'passed', { summary }), PUBLIC).facts.at(-1)).toEqual({
      label: 'p95',
      value: '12.3 ms',
    });
  });

  it.each([
    ['finished', 'passed', 'good', 'passed'],
    ['finished', 'failed', 'danger', 'failed its thresholds'],
    ['timed_out', null, 'danger', 'timed out'],
    ['aborted_by_user', null, 'danger', 'aborted by user'],
    ['aborted_by_system', null, 'danger', 'aborted by system'],
    ['aborted_by_script_error', null, 'danger', 'aborted by script error'],
    ['aborted_by_threshold', 'failed', 'danger', 'aborted by threshold'],
    ['aborted_by_limit', null, 'danger', 'aborted by limit'],
  ] as const)('%s/%s is %s: "%s"', (status, result, color, words) => {
    const message = buildMessage(finished(status, result), PUBLIC);
    expect(message.color).toBe(color);
    expect(message.title).toBe(`Checkout: run #42 ${words}`);
  });

  it('builds the link from publicUrl, tolerating a trailing slash', () => {
    expect(buildMessage(finished('finished', 'passed'), 'http://127.0.0.1:8080/').link?.url).toBe(
      'http://127.0.0.1:8080/runs/42',
    );
  });

  it('no duration for a run that never started', () => {
    const facts = buildMessage(finished('aborted_by_user', null, { started_at: null }), PUBLIC).facts;
    expect(facts.map((f) => f.label)).not.toContain('Duration');
  });

  it('the test event says it is a test from loadnotify', () => {
    const message = buildMessage({ type: 'test.notification_channel', run: null }, PUBLIC);
    expect(message.title).toMatch(/test/i);
    expect(message.summary).toMatch(/test notification from loadnotify/);
    expect(message.color).toBe('neutral');
    expect(message.link).toBeNull();
  });

  it('keeps the summary on one line and names bounded', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 1000 }), fc.string({ maxLength: 1000 }), (name, project) => {
        const message = buildMessage(
          finished('finished', 'failed', { load_test_name: name, project_name: project }),
          PUBLIC,
        );
        expect(message.summary).not.toMatch(/[\r\n]/);
        expect(message.title).not.toMatch(/[\r\n]/);
        for (const fact of message.facts) expect(fact.value.length).toBeLessThanOrEqual(MAX_NAME_CHARS);
      }),
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [400, '0s'],
    [45_000, '45s'],
    [303_000, '5m 3s'],
    [3_600_000, '1h'],
    [3_725_000, '1h 2m 5s'],
  ])('%i ms -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('truncateText', () => {
  it('leaves short text alone and cuts long text to the limit', () => {
    expect(truncateText('abc', 3)).toBe('abc');
    expect(truncateText('abcdef', 4)).toBe('abc…');
  });

  it('never splits an entity or a surrogate pair', () => {
    expect(truncateText('ab&amp;cdef', 6)).toBe('ab…');
    expect(truncateText('ab😀cdef', 4)).toBe('ab…');
  });

  it('never exceeds the limit', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.integer({ min: 1, max: 300 }), (text, max) => {
        expect(truncateText(text, max).length).toBeLessThanOrEqual(Math.max(max, 1));
      }),
    );
  });
});
