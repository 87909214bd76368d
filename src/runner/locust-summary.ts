/**
 * Locust's figures and exit codes.
 *
 * `--json` (https://docs.locust.io/en/stable/configuration.html,
 * "Prints the final stats in JSON format to stdout", added in
 * https://github.com/locustio/locust/pull/2269) prints, at the end of the test, an indented JSON
 * array with one entry per endpoint (`locust.stats.print_stats_json`, the entries of
 * `RequestStats.serialize_stats()`): `name`, `method`, `num_requests` (failures included),
 * `num_none_requests`, `num_failures`, `start_time` and `last_request_timestamp` (epoch seconds),
 * `response_times` (a histogram: rounded milliseconds -> count), ... The periodic stats tables
 * go to stdout too, before it; the logs go to stderr.
 *
 * How they map to a run's figures, as Locust's own "Aggregated" row computes them:
 * - requests: the sum of `num_requests`; failure_rate: the sum of `num_failures` / requests;
 * - request_rate: requests / (last request - first start), Locust's `total_rps`;
 * - p95_ms: the 95th percentile of the merged histograms, by Locust's own rule
 *   (`calculate_response_time_percentile` in locust/stats.py).
 *
 * Exit codes (locust/main.py, `shutdown()`): 0 when nothing failed; `--exit-code-on-error`
 * (default 1; env LOCUST_EXIT_CODE_ON_ERROR) when any request failed or a task raised; 2 when
 * an exception escaped a greenlet; whatever a locustfile sets as `environment.process_exit_code`.
 * Before a test starts, bad options and locustfiles exit 1 (and argparse's usage errors 2)
 * without printing any stats — which is how the two meanings of 1 are told apart.
 */
import type { RunSummary } from '../core/events.js';
import { finiteOrNull, isObject, ratio, SummaryError } from './summary-json.js';

/** Whether the arguments already have `--json`. */
export function asksForJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

/** The arguments with `--json` first, or null when they already have it. */
export function withJson(args: readonly string[]): string[] | null {
  return asksForJson(args) ? null : ['--json', ...args];
}

/** The code Locust exits with when requests failed: `--exit-code-on-error`, its variable, or 1. */
export function exitCodeOnError(args: readonly string[], env: NodeJS.ProcessEnv): number {
  let found: string | undefined = env.LOCUST_EXIT_CODE_ON_ERROR;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') break;
    if (arg.startsWith('--exit-code-on-error=')) found = arg.slice('--exit-code-on-error='.length);
    else if (arg === '--exit-code-on-error' && i + 1 < args.length) found = args[++i];
  }
  return found !== undefined && /^\d+$/.test(found.trim()) ? Number(found) : 1;
}

/** Locust's percentile rule: walk down from the slowest until what is left is within the share. */
function percentile(histogram: Map<number, number>, numRequests: number, percent: number): number | null {
  if (histogram.size === 0) return null;
  const within = Math.floor(numRequests * percent);
  let processed = 0;
  for (const time of [...histogram.keys()].sort((a, b) => b - a)) {
    processed += histogram.get(time) as number;
    if (numRequests - processed <= within) return time;
  }
  return 0;
}

/** Parses Locust's `--json` stats (the array of endpoints); throws SummaryError when it is not that. */
export function parseLocustStats(data: unknown): RunSummary {
  if (!Array.isArray(data) || !data.every((e) => isObject(e) && typeof e.num_requests === 'number')) {
    throw new SummaryError('not Locust --json stats: an array of endpoints with "num_requests"');
  }
  let requests = 0;
  let failures = 0;
  let first = Infinity;
  let last = -Infinity;
  const histogram = new Map<number, number>();
  for (const entry of data as Record<string, unknown>[]) {
    requests += finiteOrNull(entry.num_requests) ?? 0;
    failures += finiteOrNull(entry.num_failures) ?? 0;
    const start = finiteOrNull(entry.start_time);
    const end = finiteOrNull(entry.last_request_timestamp);
    if (start !== null) first = Math.min(first, start);
    if (end !== null) last = Math.max(last, end);
    if (isObject(entry.response_times)) {
      for (const [time, count] of Object.entries(entry.response_times)) {
        const t = Number(time);
        const n = finiteOrNull(count);
        if (Number.isFinite(t) && n !== null) histogram.set(t, (histogram.get(t) ?? 0) + n);
      }
    }
  }
  const seconds = last - first;
  return {
    thresholds_passed: null,
    thresholds: {},
    requests,
    failure_rate: ratio(failures, requests),
    p95_ms: percentile(histogram, requests, 0.95),
    request_rate: Number.isFinite(seconds) && seconds > 0 ? requests / seconds : null,
    checks: null,
  };
}

/**
 * The stats array in what Locust printed on stdout: the last `[` (or `[]`) that starts a line
 * and parses, to the end or to the last `]` line after it.
 */
export function findLocustStats(stdout: string): RunSummary {
  const lines = stdout.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as string).trimEnd();
    if (line !== '[' && line !== '[]') continue;
    const rest = lines.slice(i);
    const close = rest.map((l) => l.trimEnd()).lastIndexOf(']');
    const candidates =
      line === '[]' ? ['[]'] : [rest.join('\n'), ...(close > 0 ? [rest.slice(0, close + 1).join('\n')] : [])];
    for (const text of candidates) {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        continue;
      }
      return parseLocustStats(data);
    }
  }
  throw new SummaryError('Locust printed no --json stats');
}
