import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PROGRESS_STATUSES,
  RUN_RESULTS,
  RUN_STATUSES,
  TERMINAL_STATUSES,
  isTerminal,
  statusCode,
  transition,
  type RunEventType,
  type RunResult,
  type RunStatus,
} from './run-status.js';

/** API.md's "Run lifecycle" table, copied by hand so the code is checked against the contract. */
const TABLE: [RunStatus, [number, string], [number, string]][] = [
  ['created', [-2, 'Created'], [-1, 'Created']],
  ['validated', [-1, 'Validated'], [-1, 'Created']],
  ['queued', [0, 'Queued'], [0, 'Queued']],
  ['initializing', [1, 'Initializing'], [1, 'Initializing']],
  ['running', [2, 'Running'], [2, 'Running']],
  ['finished', [3, 'Finished'], [3, 'Finished']],
  ['timed_out', [4, 'Timed out'], [4, 'Timed out']],
  ['aborted_by_user', [5, 'Aborted by user'], [6, 'Aborted by user']],
  ['aborted_by_system', [6, 'Aborted by system'], [8, 'Aborted by system']],
  ['aborted_by_script_error', [7, 'Aborted by script error'], [9, 'Aborted by script error']],
  ['aborted_by_threshold', [8, 'Aborted by threshold'], [11, 'Aborted by threshold']],
  ['aborted_by_limit', [9, 'Aborted by limit'], [8, 'Aborted by system']],
];

describe('statusCode', () => {
  it('covers every status exactly once in the table', () => {
    expect(TABLE.map((r) => r[0]).sort()).toEqual([...RUN_STATUSES].sort());
  });

  it.each(TABLE)('%s has the k6 code and text of API.md', (status, [code, text]) => {
    for (const result of [null, 'passed', 'failed'] as const) {
      expect(statusCode('k6', status, result)).toEqual({ code, text });
    }
  });

  it.each(TABLE)('%s has the loadimpact-v3 code and text of API.md', (status, _k6, [code, text]) => {
    for (const result of [null, 'passed'] as const) {
      expect(statusCode('loadimpact-v3', status, result)).toEqual({ code, text });
    }
    if (status !== 'finished') expect(statusCode('loadimpact-v3', status, 'failed')).toEqual({ code, text });
  });

  it('shows a finished run whose thresholds failed as loadimpact-v3 12 Failed threshold', () => {
    expect(statusCode('loadimpact-v3', 'finished', 'failed')).toEqual({ code: 12, text: 'Failed threshold' });
    expect(statusCode('k6', 'finished', 'failed')).toEqual({ code: 3, text: 'Finished' });
  });
});

describe('transition', () => {
  it('moves forward through the progress statuses, steps skipped or not', () => {
    for (let i = 0; i < PROGRESS_STATUSES.length; i++) {
      for (let j = i + 1; j < PROGRESS_STATUSES.length; j++) {
        const next = PROGRESS_STATUSES[j]!;
        expect(transition(PROGRESS_STATUSES[i]!, next)).toEqual({
          kind: 'move',
          status: next,
          result: null,
          event: next === 'running' ? 'test.started' : null,
        });
      }
    }
  });

  it('refuses a move backwards among progress statuses', () => {
    for (let i = 0; i < PROGRESS_STATUSES.length; i++) {
      for (let j = 0; j < i; j++) {
        const outcome = transition(PROGRESS_STATUSES[i]!, PROGRESS_STATUSES[j]!);
        expect(outcome.kind).toBe('invalid_transition');
      }
    }
  });

  it('reaches every terminal status from every progress status with test.finished', () => {
    for (const from of PROGRESS_STATUSES) {
      for (const to of TERMINAL_STATUSES) {
        const outcome = transition(from, to);
        expect(outcome).toMatchObject({ kind: 'move', status: to, event: 'test.finished' });
      }
    }
  });

  it('never leaves a terminal status, not even to another terminal status', () => {
    for (const from of TERMINAL_STATUSES) {
      for (const to of RUN_STATUSES) {
        if (to === from) continue;
        const outcome = transition(from, to);
        expect(outcome.kind).toBe('invalid_transition');
        if (outcome.kind === 'invalid_transition') expect(outcome.message).toContain(from);
      }
    }
  });

  it('treats repeating the current status as a no-op, whatever result is sent', () => {
    for (const status of RUN_STATUSES) {
      for (const result of [undefined, null, 'passed', 'failed'] as const) {
        expect(transition(status, status, result)).toEqual({ kind: 'noop' });
      }
    }
  });

  it('sets results only with a terminal status', () => {
    expect(transition('created', 'running', 'passed').kind).toBe('invalid_result');
    expect(transition('created', 'queued', 'failed').kind).toBe('invalid_result');
    expect(transition('created', 'running', null)).toMatchObject({ kind: 'move', result: null });
  });

  it('defaults finished to passed and keeps an explicit result', () => {
    expect(transition('running', 'finished')).toMatchObject({ result: 'passed' });
    expect(transition('running', 'finished', 'failed')).toMatchObject({ result: 'failed' });
    expect(transition('running', 'timed_out')).toMatchObject({ result: null });
    expect(transition('running', 'aborted_by_user', 'failed')).toMatchObject({ result: 'failed' });
  });

  it('refuses passed with every terminal status but finished', () => {
    for (const to of TERMINAL_STATUSES) {
      const outcome = transition('running', to, 'passed');
      if (to === 'finished') expect(outcome).toMatchObject({ kind: 'move', result: 'passed' });
      else expect(outcome).toMatchObject({ kind: 'invalid_result', message: expect.stringContaining(to) });
    }
  });

  it('makes aborted_by_threshold failed and refuses passed with it', () => {
    expect(transition('running', 'aborted_by_threshold')).toMatchObject({ result: 'failed' });
    expect(transition('created', 'aborted_by_threshold', null)).toMatchObject({ result: 'failed' });
    expect(transition('running', 'aborted_by_threshold', 'failed')).toMatchObject({ result: 'failed' });
    expect(transition('running', 'aborted_by_threshold', 'passed').kind).toBe('invalid_result');
  });
});

describe('transition over random request sequences', () => {
  const request = fc.record({
    status: fc.constantFrom(...RUN_STATUSES),
    result: fc.constantFrom<RunResult | null | undefined>(undefined, null, ...RUN_RESULTS),
  });
  const sequence = fc.array(request, { maxLength: 30 });

  /** Plays the requests against a run the way the repository does: only moves change it. */
  function play(requests: { status: RunStatus; result: RunResult | null | undefined }[]) {
    let status: RunStatus = 'created';
    let result: RunResult | null = null;
    const events: RunEventType[] = [];
    const steps: {
      before: RunStatus;
      after: RunStatus;
      result: RunResult | null;
      event: RunEventType | null;
      kind: string;
      requested: RunStatus;
    }[] = [];
    for (const r of requests) {
      const before = status;
      const outcome = transition(status, r.status, r.result);
      let event: RunEventType | null = null;
      if (outcome.kind === 'move') {
        status = outcome.status;
        result = outcome.result;
        event = outcome.event;
        if (event) events.push(event);
      }
      steps.push({ before, after: status, result, event, kind: outcome.kind, requested: r.status });
    }
    return { status, result, events, steps };
  }

  it('(a) a run never leaves a terminal status', () => {
    fc.assert(
      fc.property(sequence, (requests) => {
        for (const s of play(requests).steps) {
          if (isTerminal(s.before)) expect(s.after).toBe(s.before);
        }
      }),
    );
  });

  it('(b) progress statuses only move forward', () => {
    fc.assert(
      fc.property(sequence, (requests) => {
        for (const s of play(requests).steps) {
          if (!isTerminal(s.before) && !isTerminal(s.after)) {
            expect(PROGRESS_STATUSES.indexOf(s.after)).toBeGreaterThanOrEqual(
              PROGRESS_STATUSES.indexOf(s.before),
            );
          }
        }
      }),
    );
  });

  it('(c) at most one test.started and one test.finished; test.started only on entering running', () => {
    fc.assert(
      fc.property(sequence, (requests) => {
        const { events, steps } = play(requests);
        expect(events.filter((e) => e === 'test.started').length).toBeLessThanOrEqual(1);
        expect(events.filter((e) => e === 'test.finished').length).toBeLessThanOrEqual(1);
        if (events.length === 2) expect(events).toEqual(['test.started', 'test.finished']);
        for (const s of steps) {
          if (s.event === 'test.started') {
            expect(s.before).not.toBe('running');
            expect(s.after).toBe('running');
          }
          if (s.event === 'test.finished') expect(isTerminal(s.after) && !isTerminal(s.before)).toBe(true);
          // Every real move into running or a terminal status emits its event.
          if (s.kind === 'move' && s.after === 'running') expect(s.event).toBe('test.started');
          if (s.kind === 'move' && isTerminal(s.after)) expect(s.event).toBe('test.finished');
        }
      }),
    );
  });

  it('(d) repeating the current status is always a no-op', () => {
    fc.assert(
      fc.property(sequence, request, (requests, again) => {
        const { status } = play(requests);
        expect(transition(status, status, again.result)).toEqual({ kind: 'noop' });
      }),
    );
  });

  it('(e) aborted_by_threshold always has result failed', () => {
    fc.assert(
      fc.property(sequence, (requests) => {
        const { status, result, steps } = play(requests);
        if (status === 'aborted_by_threshold') expect(result).toBe('failed');
        for (const s of steps) if (s.after === 'aborted_by_threshold') expect(s.result).toBe('failed');
      }),
    );
  });

  it('a run has no result while in progress, and a finished run always has one', () => {
    fc.assert(
      fc.property(sequence, (requests) => {
        for (const s of play(requests).steps) {
          if (!isTerminal(s.after)) expect(s.result).toBeNull();
          if (s.after === 'finished') expect(s.result).not.toBeNull();
        }
      }),
    );
  });
});
