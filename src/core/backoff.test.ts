import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BASE_DELAY_MS,
  JITTER_FLOOR_MS,
  MAX_ATTEMPTS,
  MAX_RETRY_AFTER_MS,
  MAX_STEP_MS,
  backoffCeilingMs,
  nextAttemptDelay,
  parseRetryAfter,
  retryAfterFromHeaders,
  retryDelayMs,
} from './backoff.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const lowest = () => 0;
const highest = () => 0.999999;

/** Sum of the waits between attempt 1 and attempt `attempts`, at the given jitter draw. */
function span(attempts: number, random: () => number): number {
  let total = 0;
  for (let attempt = 1; attempt < attempts; attempt++) total += retryDelayMs(attempt, random);
  return total;
}

const attemptArb = fc.integer({ min: 1, max: 10_000 });
const randomArb = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

describe('retryDelayMs', () => {
  it('starts near the base delay and doubles', () => {
    expect(retryDelayMs(1, lowest)).toBe(BASE_DELAY_MS / 2);
    expect(retryDelayMs(1, highest)).toBeCloseTo(BASE_DELAY_MS, -1);
    expect(backoffCeilingMs(2)).toBe(2 * BASE_DELAY_MS);
    expect(backoffCeilingMs(3)).toBe(4 * BASE_DELAY_MS);
  });

  it('retries of MAX_ATTEMPTS span at least 24 hours even at the shortest waits', () => {
    expect(span(MAX_ATTEMPTS, lowest)).toBeGreaterThanOrEqual(DAY_MS);
  });

  it('MAX_ATTEMPTS is the smallest count that does', () => {
    expect(span(MAX_ATTEMPTS - 1, lowest)).toBeLessThan(DAY_MS);
  });

  it('the longest span stays within about two days', () => {
    expect(span(MAX_ATTEMPTS, highest)).toBeLessThan(2.5 * DAY_MS);
  });

  it('is positive, within [ceiling/2, ceiling] and never above the step cap', () => {
    fc.assert(
      fc.property(attemptArb, randomArb, (attempt, r) => {
        const delay = retryDelayMs(attempt, () => r);
        const ceiling = backoffCeilingMs(attempt);
        expect(delay).toBeGreaterThanOrEqual(JITTER_FLOOR_MS);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(ceiling);
        expect(delay).toBeLessThanOrEqual(MAX_STEP_MS);
      }),
    );
  });

  it('has non-decreasing ceilings and minimum waits', () => {
    fc.assert(
      fc.property(attemptArb, (attempt) => {
        expect(backoffCeilingMs(attempt + 1)).toBeGreaterThanOrEqual(backoffCeilingMs(attempt));
        expect(retryDelayMs(attempt + 1, lowest)).toBeGreaterThanOrEqual(retryDelayMs(attempt, lowest));
      }),
    );
  });

  it('any jitter draws give a span of at least 24 hours', () => {
    fc.assert(
      fc.property(fc.array(randomArb, { minLength: MAX_ATTEMPTS, maxLength: MAX_ATTEMPTS }), (draws) => {
        let i = 0;
        expect(span(MAX_ATTEMPTS, () => draws[i++] ?? 0)).toBeGreaterThanOrEqual(DAY_MS);
      }),
    );
  });

  it('survives a random source outside [0, 1)', () => {
    expect(retryDelayMs(1, () => -5)).toBe(BASE_DELAY_MS / 2);
    expect(retryDelayMs(1, () => 7)).toBe(BASE_DELAY_MS);
    expect(retryDelayMs(Number.MAX_SAFE_INTEGER, () => 0.5)).toBeLessThanOrEqual(MAX_STEP_MS);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-11-23T10:00:00Z');

  it.each([
    [undefined, null],
    ['', null],
    ['soon', null],
    ['-5', null],
    ['0', 0],
    ['1', 1000],
    ['  30 ', 30_000],
    ['1.5', 1500],
    ['3600', MAX_RETRY_AFTER_MS],
    ['86400', MAX_RETRY_AFTER_MS],
    ['Mon, 23 Nov 2026 10:02:00 GMT', 120_000],
    ['Mon, 23 Nov 2026 09:00:00 GMT', 0],
    ['Wed, 23 Nov 2050 10:00:00 GMT', MAX_RETRY_AFTER_MS],
  ])('%j -> %j', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it('is never negative nor above the bound', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const ms = parseRetryAfter(value, now);
        if (ms !== null) {
          expect(ms).toBeGreaterThanOrEqual(0);
          expect(ms).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS);
        }
      }),
    );
  });
});

describe('retryAfterFromHeaders', () => {
  it('reads the header whatever its case', () => {
    expect(retryAfterFromHeaders({ 'Retry-After': '7' }, new Date())).toBe(7000);
    expect(retryAfterFromHeaders({ 'retry-after': '7' }, new Date())).toBe(7000);
    expect(retryAfterFromHeaders({}, new Date())).toBeUndefined();
  });

  it("measures an HTTP date against the receiver's Date header, not our clock", () => {
    const ourClockIsAnHourAhead = new Date('2026-11-23T11:00:00Z');
    const headers = { date: 'Mon, 23 Nov 2026 10:00:00 GMT', 'retry-after': 'Mon, 23 Nov 2026 10:00:45 GMT' };
    expect(retryAfterFromHeaders(headers, ourClockIsAnHourAhead)).toBe(45_000);
  });
});

describe('nextAttemptDelay', () => {
  it('uses the backoff when the receiver states no wish', () => {
    expect(nextAttemptDelay(3, undefined, lowest)).toBe(retryDelayMs(3, lowest));
  });

  it('waits as long as the receiver asks when that is longer', () => {
    expect(nextAttemptDelay(1, 120_000, lowest)).toBe(120_000);
  });

  it('never comes back before the receiver asked, the floor, or the backoff', () => {
    fc.assert(
      fc.property(
        attemptArb,
        fc.integer({ min: -1000, max: 10 * MAX_RETRY_AFTER_MS }),
        randomArb,
        (a, wish, r) => {
          const delay = nextAttemptDelay(a, wish, () => r);
          expect(delay).toBeGreaterThanOrEqual(JITTER_FLOOR_MS);
          expect(delay).toBeGreaterThanOrEqual(Math.min(wish, MAX_RETRY_AFTER_MS));
          expect(delay).toBeGreaterThanOrEqual(retryDelayMs(a, () => r));
          expect(delay).toBeLessThanOrEqual(Math.max(MAX_STEP_MS, MAX_RETRY_AFTER_MS));
        },
      ),
    );
  });
});
