/**
 * autocannon's figures. With `-j/--json` autocannon prints its result as one line of JSON on
 * stdout instead of its tables (https://github.com/mcollina/autocannon#usage, "-j/--json
 * Print the output as newline delimited JSON"). The result object is documented under
 * "autocannon(opts[, cb])" in the same README: `requests`, `latency` and `throughput`
 * histograms (`total`, `average`, `p50`, `p90`, `p97_5`, `p99`, ...), the counts `errors`
 * (connection errors, timeouts included), `timeouts`, `mismatches` (`--expectBody`),
 * `non2xx`, and `duration` in seconds.
 *
 * How they map to a run's figures, the way k6's http_reqs / http_req_failed do:
 * - requests: responses (`requests.total`) plus requests that got none (`errors`);
 * - failure_rate: (non2xx + errors + mismatches) / requests — k6 counts a failed connection
 *   and an unexpected status as failed requests too;
 * - request_rate: requests / duration;
 * - p95_ms: autocannon reports p90 and p97.5 but no p95. p95 lies between them: when they
 *   are equal (common: its latencies are whole milliseconds) it is that value, otherwise it is
 *   estimated on the straight line between them (two thirds of the way from p90 to p97.5).
 *   Runs of autocannon compare with each other alike; the README says it is an estimate.
 */
import type { RunSummary } from '../core/events.js';
import { finiteOrNull, isObject, ratio, SummaryError } from './summary-json.js';

/** Whether the arguments already ask for JSON (before a `--`, past which `--on-port` has its command). */
export function asksForJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const own = end === -1 ? args : args.slice(0, end);
  return own.some((a) => a === '--json' || a === '-j' || a.startsWith('--json='));
}

/** The arguments with `--json` first, or null when they already have it. */
export function withJson(args: readonly string[]): string[] | null {
  return asksForJson(args) ? null : ['--json', ...args];
}

/** Parses autocannon's result object; throws SummaryError when it is not one. */
export function parseAutocannonResult(data: unknown): RunSummary {
  if (!isObject(data) || !isObject(data.requests) || !isObject(data.latency)) {
    throw new SummaryError('not an autocannon result: no "requests" and "latency" objects');
  }
  const responses = finiteOrNull(data.requests.total);
  const errors = finiteOrNull(data.errors) ?? 0;
  const requests = responses === null ? null : responses + errors;
  const failed = (finiteOrNull(data.non2xx) ?? 0) + errors + (finiteOrNull(data.mismatches) ?? 0);
  const duration = finiteOrNull(data.duration);
  const p90 = finiteOrNull(data.latency.p90);
  const p97 = finiteOrNull(data.latency.p97_5);
  return {
    thresholds_passed: null,
    thresholds: {},
    requests,
    failure_rate: requests === null ? null : ratio(failed, requests),
    p95_ms: p90 !== null && p97 !== null ? p90 + ((p97 - p90) * (95 - 90)) / (97.5 - 90) : null,
    request_rate: requests !== null && duration !== null && duration > 0 ? requests / duration : null,
    checks: null,
  };
}

/**
 * The last autocannon result in what it printed on stdout: with `--forever` there is one per
 * round, and other lines (a server started by `--on-port` shares the stream) are skipped.
 */
export function findAutocannonResult(stdout: string): RunSummary {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as string).trim();
    if (!line.startsWith('{')) continue;
    try {
      return parseAutocannonResult(JSON.parse(line));
    } catch {
      /* not the result: keep looking */
    }
  }
  throw new SummaryError('autocannon printed no JSON result');
}
