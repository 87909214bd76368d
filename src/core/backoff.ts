/**
 * Retry policy for deliveries: exponential backoff with jitter, and the receiver's own
 * Retry-After. Pure: the caller passes the random source and the clock.
 *
 * Attempts are numbered from 1 (the first send). `retryDelayMs(n)` is the wait after attempt
 * `n` failed, before attempt `n + 1`. The engine gives up once attempt MAX_ATTEMPTS has failed.
 */

export const BASE_DELAY_MS = 10_000;
/** No single wait is longer than this, so a receiver that comes back is reached within ~2 h. */
export const MAX_STEP_MS = 2 * 60 * 60 * 1000;
/** No wait, whatever asked for it, is shorter than this. */
export const JITTER_FLOOR_MS = 1000;
/**
 * A receiver may ask for at most this much through Retry-After. A far-future HTTP date (a
 * misconfigured proxy, a clock years off) would otherwise park a delivery for days; one hour
 * is longer than any rate-limit window Slack, HipChat or Discord document.
 */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
/**
 * Total attempts, the first send included: the smallest count whose retries, each at its
 * shortest jittered wait, still span 24 hours (backoff.test.ts sums them). A receiver that is
 * down for a whole day therefore still gets the event; at the longest waits the span is ~2 days.
 */
export const MAX_ATTEMPTS = 34;

/** The upper bound of the wait after attempt `attempt`: 10 s, 20 s, 40 s, ... capped at 2 h. */
export function backoffCeilingMs(attempt: number): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2 ** 1024 is Infinity, which Math.min handles; no overflow worries for huge attempts.
  return Math.min(MAX_STEP_MS, BASE_DELAY_MS * 2 ** exponent);
}

/**
 * "Equal jitter": half of the ceiling is fixed, the other half random. Full jitter (0..ceiling)
 * spreads retries best but has no floor, so a run of unlucky draws could spend every attempt in
 * minutes and the 24-hour guarantee would not hold; decorrelated jitter needs the previous delay,
 * which the engine would then have to store. Half-fixed keeps both the spread and the guarantee.
 */
export function retryDelayMs(attempt: number, random: () => number): number {
  const ceiling = backoffCeilingMs(attempt);
  const r = Math.min(1, Math.max(0, random()));
  return Math.max(JITTER_FLOOR_MS, Math.round(ceiling / 2 + (r * ceiling) / 2));
}

const DELTA_SECONDS = /^\d+(?:\.\d+)?$/;

/**
 * Retry-After (RFC 9110 §10.2.3) as milliseconds from `now`: delta-seconds or an HTTP date.
 * Fractional seconds are accepted because some services send them. A date in the past means
 * "now" (0); anything unparsable is null, so the engine's own backoff applies. The result is
 * clamped to MAX_RETRY_AFTER_MS.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  let ms: number;
  if (DELTA_SECONDS.test(trimmed)) {
    ms = Number(trimmed) * 1000;
  } else {
    // Date.parse also accepts bare numbers and odd forms; an HTTP date always names a month.
    if (!/[a-z]/i.test(trimmed)) return null;
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return null;
    ms = at - now.getTime();
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.ceil(ms)));
}

/** The value of a response header, whatever the case of its name. */
export function headerValue(headers: Record<string, string>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/**
 * The receiver's Retry-After from response headers. An HTTP date is measured against the
 * response's own Date header when it has one: both come from the receiver's clock, so skew
 * between its clock and ours cancels out. Only without it is `now` (our clock) used.
 */
export function retryAfterFromHeaders(headers: Record<string, string>, now: Date): number | undefined {
  const serverDate = Date.parse(headerValue(headers, 'date') ?? '');
  const reference = Number.isNaN(serverDate) ? now : new Date(serverDate);
  return parseRetryAfter(headerValue(headers, 'retry-after'), reference) ?? undefined;
}

/**
 * The wait before the next attempt. A receiver's wish (`afterMs`, from Retry-After or a body
 * field) is a lower bound: we never come back earlier than asked, nor earlier than 1 s. Our own
 * backoff stays a lower bound too, because every retry spends an attempt: a receiver answering
 * "Retry-After: 1" for a day must not burn all attempts in a minute and lose the event.
 */
export function nextAttemptDelay(
  attempt: number,
  classificationAfterMs: number | undefined,
  random: () => number,
): number {
  const backoff = retryDelayMs(attempt, random);
  if (classificationAfterMs === undefined || !Number.isFinite(classificationAfterMs)) return backoff;
  const wish = Math.min(MAX_RETRY_AFTER_MS, Math.max(JITTER_FLOOR_MS, classificationAfterMs));
  return Math.max(backoff, wish);
}
