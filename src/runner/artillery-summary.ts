/**
 * Artillery's figures and `ensure` checks.
 *
 * `artillery run --output <file>` writes a JSON report at the end of the test:
 * `{aggregate, intermediate}` (https://www.artillery.io/docs/reference/cli/run, --output; the
 * metric names are in https://www.artillery.io/docs/reference/reported-metrics). The aggregate
 * has `counters` (`http.requests`, `http.codes.<status>`, `errors.<code>` such as
 * `errors.ETIMEDOUT`), `rates` (`http.request_rate`) and `summaries` (`http.response_time`
 * with min, max, mean, p50 ... p95, p99, p999, in ms).
 *
 * How they map to a run's figures, the way k6's http_reqs / http_req_failed do:
 * - requests: `http.requests`;
 * - failure_rate: (every `errors.*` counter + responses with a status of 400 or more) /
 *   requests — k6 counts both as failed requests; Artillery itself counts only the first;
 * - request_rate: `http.request_rate`; p95_ms: `http.response_time`'s p95.
 *
 * The `ensure` plugin (https://www.artillery.io/docs/reference/extensions/ensure) prints its
 * verdicts on stdout after the report, under a `Checks:` line: `ok: <check>` or
 * `fail: <check>`, with ` (optional)` after a check marked `strict: false`. A failed strict
 * check makes Artillery exit 1. They become the run's thresholds.
 */
import type { RunSummary } from '../core/events.js';
import { finiteOrNull, isObject, type Json, SummaryError } from './summary-json.js';

/** Where the arguments tell Artillery to write its report: `--output <file>`, `--output=<file>` or `-o <file>`. */
export function outputPathFromArgs(args: readonly string[]): string | null {
  let found: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') break;
    if (arg.startsWith('--output=')) found = arg.slice('--output='.length);
    else if ((arg === '--output' || arg === '-o') && i + 1 < args.length) found = args[++i] as string;
  }
  return found === '' ? null : found;
}

/**
 * The arguments with `--output <file>` right after `run`, or null when the command is not
 * `artillery run` (run-fargate, run-lambda and the others report elsewhere) or has an output.
 */
export function withOutput(args: readonly string[], file: string): string[] | null {
  if (outputPathFromArgs(args) !== null) return null;
  const sub = args.findIndex((a) => !a.startsWith('-'));
  if (sub === -1 || args[sub] !== 'run') return null;
  return [...args.slice(0, sub + 1), '--output', file, ...args.slice(sub + 1)];
}

function sumOf(counters: Json, keep: (name: string) => boolean): number {
  let total = 0;
  for (const [name, value] of Object.entries(counters)) {
    const n = finiteOrNull(value);
    if (n !== null && keep(name)) total += n;
  }
  return total;
}

/** Parses an Artillery v2 JSON report; throws SummaryError when it is not one. */
export function parseArtilleryReport(data: unknown): RunSummary {
  const aggregate = isObject(data) ? data.aggregate : undefined;
  if (!isObject(aggregate) || !isObject(aggregate.counters)) {
    throw new SummaryError('not an Artillery v2 report: no "aggregate.counters" object');
  }
  const counters = aggregate.counters;
  const rates = isObject(aggregate.rates) ? aggregate.rates : {};
  const summaries = isObject(aggregate.summaries) ? aggregate.summaries : {};
  const responseTime = isObject(summaries['http.response_time']) ? summaries['http.response_time'] : {};
  const requests = finiteOrNull(counters['http.requests']);
  const errors = sumOf(counters, (name) => name.startsWith('errors.'));
  const badStatus = sumOf(counters, (name) => {
    const m = /^http\.codes\.(\d{3})$/.exec(name);
    return m !== null && Number(m[1]) >= 400;
  });
  return {
    thresholds_passed: null,
    thresholds: {},
    requests,
    failure_rate: requests !== null && requests > 0 ? Math.min(1, (errors + badStatus) / requests) : null,
    p95_ms: finiteOrNull(responseTime.p95),
    request_rate: finiteOrNull(rates['http.request_rate']),
    checks: null,
  };
}

// Colours are off when stdout is not a terminal, as here; stripped anyway for a forced colour.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * The `ensure` verdicts in what Artillery printed last, as thresholds (true = held); an
 * optional check keeps its ` (optional)` and does not decide `thresholds_passed`. Null when
 * there is no `Checks:` block.
 */
export function ensureChecks(stdout: string): Pick<RunSummary, 'thresholds' | 'thresholds_passed'> | null {
  const lines = stdout.replace(ANSI, '').split(/\r?\n/);
  const start = lines.map((l) => l.trim()).lastIndexOf('Checks:');
  if (start === -1) return null;
  const thresholds: Record<string, boolean> = {};
  let strictPassed = true;
  for (const line of lines.slice(start + 1)) {
    const m = /^(ok|fail): (.+)$/.exec(line.trim());
    if (!m) continue;
    const passed = m[1] === 'ok';
    const check = (m[2] as string).slice(0, 500);
    thresholds[check] = passed;
    if (!passed && !check.endsWith(' (optional)')) strictPassed = false;
  }
  if (Object.keys(thresholds).length === 0) return null;
  return { thresholds, thresholds_passed: strictPassed };
}
