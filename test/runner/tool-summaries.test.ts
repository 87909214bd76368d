/**
 * Reading each tool's figures from what it writes: autocannon's result and Artillery's report
 * and `ensure` lines are real output (autocannon 9.0.0, artillery 2.0.21, against a local
 * server); Locust's stdout follows its documented --json format (locust cannot be installed
 * here). Also the arguments that ask each tool for its figures, and the bounded output tail.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureChecks, parseArtilleryReport, withOutput } from '../../src/runner/artillery-summary.js';
import { findAutocannonResult, withJson as autocannonJson } from '../../src/runner/autocannon-summary.js';
import { exitCodeOnError, findLocustStats, withJson as locustJson } from '../../src/runner/locust-summary.js';
import { OutputTail } from '../../src/runner/output-tail.js';
import { SummaryError } from '../../src/runner/summary-json.js';
import { capture } from './capture.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tools');
const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');

describe('autocannon', () => {
  it('reads the last result line, past other output, and maps it like k6 figures', () => {
    const data = JSON.parse(read('autocannon-500s.json'));
    // As autocannon prints it: one line.
    const result = JSON.stringify(data);
    const summary = findAutocannonResult(`server listening\n${result}\n`);
    expect(summary).toEqual({
      thresholds_passed: null,
      thresholds: {},
      requests: 50,
      failure_rate: 1, // 50 non-2xx of 50
      p95_ms: data.latency.p90 + ((data.latency.p97_5 - data.latency.p90) * 2) / 3,
      request_rate: 50 / 1.01,
      checks: null,
    });
  });

  it('counts errors (no response) as requests that failed', () => {
    const data = {
      requests: { total: 90 },
      latency: { p90: 4, p97_5: 4 },
      errors: 10,
      non2xx: 5,
      duration: 2,
    };
    expect(findAutocannonResult(JSON.stringify(data))).toMatchObject({
      requests: 100,
      failure_rate: 0.15,
      p95_ms: 4,
      request_rate: 50,
    });
  });

  it('says when there is no result', () => {
    expect(() => findAutocannonResult('Running 10s test\n{"not":"it"}\n')).toThrow(SummaryError);
  });

  it.each([
    [
      ['-c', '10', 'http://x'],
      ['--json', '-c', '10', 'http://x'],
    ],
    [['-j', 'http://x'], null],
    [['--json', 'http://x'], null],
    [
      ['http://x', '--on-port', '--', 'node', 'server.js', '-j'],
      ['--json', 'http://x', '--on-port', '--', 'node', 'server.js', '-j'],
    ],
  ])('--json for %j', (args, expected) => expect(autocannonJson(args)).toEqual(expected));
});

describe('Artillery', () => {
  it('maps the aggregate of a real report: requests, errors and 4xx/5xx, rate, p95', () => {
    expect(parseArtilleryReport(JSON.parse(read('artillery-report.json')))).toEqual({
      thresholds_passed: null,
      thresholds: {},
      requests: 20,
      failure_rate: 0.5, // http.codes.500: 10 of http.requests: 20
      p95_ms: 6,
      request_rate: 11,
      checks: null,
    });
  });

  it('counts every errors.* counter as failed', () => {
    const report = {
      aggregate: {
        counters: {
          'http.requests': 40,
          'http.codes.200': 30,
          'http.codes.302': 2,
          'errors.ETIMEDOUT': 6,
          'errors.ECONNRESET': 2,
        },
        summaries: {},
      },
    };
    expect(parseArtilleryReport(report)).toMatchObject({ requests: 40, failure_rate: 0.2, p95_ms: null });
  });

  it('refuses what is not a v2 report', () => {
    expect(() => parseArtilleryReport({ aggregate: { requestsCompleted: 3 } })).toThrow(
      /not an Artillery v2 report/,
    );
  });

  it('reads the ensure verdicts it printed as thresholds; optional ones do not decide', () => {
    expect(ensureChecks(read('artillery-stdout.txt'))).toEqual({
      thresholds: { 'maxErrorRate < 1': true, 'http.response_time.p95 < 0.0001': false },
      thresholds_passed: false,
    });
    expect(ensureChecks('Checks:\n\u001b[31mfail\u001b[39m: p99 < 5 (optional)\nok: p95 < 9\n')).toEqual({
      thresholds: { 'p99 < 5 (optional)': false, 'p95 < 9': true },
      thresholds_passed: true,
    });
    expect(ensureChecks('All VUs finished.\n')).toBeNull();
  });

  it.each([
    [
      ['run', 's.yml'],
      ['run', '--output', '/t/r.json', 's.yml'],
    ],
    [
      ['run', '-e', 'staging', 's.yml'],
      ['run', '--output', '/t/r.json', '-e', 'staging', 's.yml'],
    ],
    [['run', '-o', 'mine.json', 's.yml'], null],
    [['run', '--output=mine.json', 's.yml'], null],
    [['run-fargate', 's.yml'], null],
    [['version'], null],
  ])('--output for %j', (args, expected) => expect(withOutput(args, '/t/r.json')).toEqual(expected));
});

describe('Locust', () => {
  it('reads the --json stats after its tables, as its Aggregated row figures them', () => {
    expect(findLocustStats(read('locust-stdout.txt'))).toEqual({
      thresholds_passed: null,
      thresholds: {},
      requests: 20,
      failure_rate: 0.15,
      // 2 of 20 took 120 ms: Locust's 95th percentile of the merged histograms is 120.
      p95_ms: 120,
      request_rate: expect.closeTo(20 / 4, 9),
      checks: null,
    });
  });

  it('an empty stats array is no requests; no array at all is no stats', () => {
    expect(findLocustStats('[]\n')).toMatchObject({ requests: 0, failure_rate: null, p95_ms: null });
    expect(() => findLocustStats('Type Name # reqs\n')).toThrow(SummaryError);
  });

  it('finds its code for failed requests in the arguments, then the environment, else 1', () => {
    expect(exitCodeOnError(['-f', 'l.py'], {})).toBe(1);
    expect(exitCodeOnError(['-f', 'l.py'], { LOCUST_EXIT_CODE_ON_ERROR: '3' })).toBe(3);
    expect(exitCodeOnError(['--exit-code-on-error', '0'], { LOCUST_EXIT_CODE_ON_ERROR: '3' })).toBe(0);
    expect(exitCodeOnError(['--exit-code-on-error=4'], {})).toBe(4);
    expect(locustJson(['-f', 'l.py'])).toEqual(['--json', '-f', 'l.py']);
    expect(locustJson(['--json', '-f', 'l.py'])).toBeNull();
  });
});

describe('OutputTail', () => {
  it('passes every byte on and keeps only the last ones', async () => {
    const target = capture();
    const tail = new OutputTail(target, 10);
    for (const part of ['0123456789', 'abc', 'defghijklmnop']) tail.write(part);
    // Kept as written, before the target has taken it.
    expect(tail.text()).toBe('ghijklmnop');
    expect(tail.truncated).toBe(true);
    await new Promise<void>((resolve) => tail.end(resolve));
    expect(target.text()).toBe('0123456789abcdefghijklmnop');
    const small = new OutputTail(null, 100);
    small.write('fits');
    expect([small.text(), small.truncated]).toEqual(['fits', false]);
  });
});
