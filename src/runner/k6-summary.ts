/**
 * Reads the JSON k6 leaves at the end of a test into the RunSummary that channels show.
 *
 * Two shapes exist and they disagree on what a threshold's boolean means:
 * - `--summary-export`: values sit on the metric, and `thresholds: {expr: true}` means FAILED;
 * - `handleSummary()` data: values sit under `metric.values`, and `thresholds: {expr: {ok}}`
 *   with `ok: true` when passed.
 * RunSummary.thresholds always means "passed" (true = the threshold held).
 */
import type { RunSummary } from '../core/events.js';
import { finiteOrNull, isObject, readJsonSummary, SummaryError } from './summary-json.js';

export { SummaryError };

/** A metric's stat, wherever this shape keeps it. */
function stat(metric: unknown, key: string): number | null {
  if (!isObject(metric)) return null;
  if (isObject(metric.values)) return finiteOrNull(metric.values[key]);
  return finiteOrNull(metric[key]);
}

/** Whether a threshold held, or null when the entry is neither shape. */
function thresholdPassed(value: unknown): boolean | null {
  if (typeof value === 'boolean') return !value; // summary-export: true = crossed
  if (isObject(value) && typeof value.ok === 'boolean') return value.ok;
  return null;
}

/** Parses already-decoded JSON; throws SummaryError when it is not a k6 summary at all. */
export function parseK6Summary(data: unknown): RunSummary {
  if (!isObject(data) || !isObject(data.metrics)) {
    throw new SummaryError('not a k6 summary: no "metrics" object');
  }
  const metrics = data.metrics;
  const thresholds: Record<string, boolean> = {};
  for (const [name, metric] of Object.entries(metrics)) {
    if (!isObject(metric) || !isObject(metric.thresholds)) continue;
    for (const [expr, value] of Object.entries(metric.thresholds)) {
      const passed = thresholdPassed(value);
      // Keyed like k6's own end-of-test output: the metric (with any tag filter), then the expression.
      if (passed !== null) thresholds[`${name}: ${expr}`] = passed;
    }
  }
  const verdicts = Object.values(thresholds);
  const failures = metrics.http_req_failed;
  // Rate metrics keep their ratio in `value` (summary-export) or `values.rate` (handleSummary).
  const failureRate = stat(failures, 'value') ?? stat(failures, 'rate');
  return {
    thresholds_passed: verdicts.length === 0 ? null : verdicts.every(Boolean),
    thresholds,
    requests: stat(metrics.http_reqs, 'count'),
    failure_rate: failureRate,
    p95_ms: stat(metrics.http_req_duration, 'p(95)'),
    request_rate: stat(metrics.http_reqs, 'rate'),
    // Like http_req_failed: the ratio sits in `value` or `values.rate`.
    checks: stat(metrics.checks, 'value') ?? stat(metrics.checks, 'rate'),
  };
}

/** Reads and parses a summary file; every failure (missing, unreadable, malformed) is a SummaryError. */
export function readK6Summary(file: string): Promise<RunSummary> {
  return readJsonSummary(file, parseK6Summary);
}

/**
 * Finds where k6 was told to export its summary: `--summary-export=<path>` or
 * `--summary-export <path>`. Stops at a `--`, past which the arguments are the script's own.
 */
export function summaryPathFromArgs(args: readonly string[]): string | null {
  let found: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') break;
    if (arg.startsWith('--summary-export=')) found = arg.slice('--summary-export='.length);
    else if (arg === '--summary-export' && i + 1 < args.length) found = args[++i] as string;
  }
  // k6 takes the last occurrence, as flag parsers do.
  return found === '' ? null : found;
}
