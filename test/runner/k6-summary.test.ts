import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  parseK6Summary,
  readK6Summary,
  SummaryError,
  summaryPathFromArgs,
} from '../../src/runner/k6-summary.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe('parseK6Summary', () => {
  it('reads a --summary-export file, where a threshold value true means it FAILED', async () => {
    const summary = await readK6Summary(path.join(fixtures, 'k6-summary-export.json'));
    expect(summary).toEqual({
      thresholds_passed: false,
      thresholds: {
        'http_req_duration: p(95)<500': true,
        'http_req_duration: p(99)<1000': false,
        'http_req_failed: rate<0.01': false,
      },
      requests: 1200,
      failure_rate: 0.016666666666666666,
      p95_ms: 312.86,
      request_rate: 39.98,
      checks: 0.9833333333333333,
    });
  });

  it('reads handleSummary() data, where {ok: true} means passed', async () => {
    const summary = await readK6Summary(path.join(fixtures, 'k6-handle-summary.json'));
    expect(summary).toEqual({
      thresholds_passed: true,
      thresholds: { 'http_req_duration: p(95)<500': true, 'http_req_failed: rate<0.01': true },
      requests: 900,
      failure_rate: 0,
      p95_ms: 210.5,
      request_rate: 29.99,
      checks: null,
    });
  });

  it('gives null for missing metrics and stats, and no verdict without thresholds', () => {
    expect(parseK6Summary({ metrics: {} })).toEqual({
      thresholds_passed: null,
      thresholds: {},
      requests: null,
      failure_rate: null,
      p95_ms: null,
      request_rate: null,
      checks: null,
    });
    // summaryTrendStats without p(95); a counter with a non-number count
    const odd = parseK6Summary({
      metrics: {
        http_req_duration: { type: 'trend', avg: 1, 'p(99)': 5 },
        http_reqs: { type: 'counter', count: 'many' },
        http_req_failed: { type: 'rate', value: 0.5, thresholds: { 'rate<0.9': false, weird: 'x' } },
      },
    });
    expect(odd).toMatchObject({ p95_ms: null, requests: null, failure_rate: 0.5, thresholds_passed: true });
    expect(odd.thresholds).toEqual({ 'http_req_failed: rate<0.9': true });
  });

  it('rejects data that is not a k6 summary', () => {
    for (const data of [null, [], 'text', 3, {}, { metrics: [] }]) {
      expect(() => parseK6Summary(data)).toThrow(SummaryError);
    }
  });

  it('turns unreadable and malformed files into a SummaryError', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'loadnotify-summary-'));
    const truncated = path.join(dir, 'truncated.json');
    await writeFile(truncated, '{"metrics": {"http_reqs": ');
    await expect(readK6Summary(truncated)).rejects.toThrow(/malformed JSON/);
    await expect(readK6Summary(path.join(dir, 'absent.json'))).rejects.toThrow(/does not exist/);
    await expect(readK6Summary(dir)).rejects.toThrow(SummaryError);
  });
});

describe('summaryPathFromArgs', () => {
  it('finds both spellings, takes the last, and ignores what follows --', () => {
    expect(summaryPathFromArgs(['run', '--summary-export=out.json', 'script.js'])).toBe('out.json');
    expect(summaryPathFromArgs(['run', '--summary-export', 'a b.json', 'script.js'])).toBe('a b.json');
    expect(summaryPathFromArgs(['run', '--summary-export=a.json', '--summary-export', 'b.json'])).toBe(
      'b.json',
    );
    expect(summaryPathFromArgs(['run', 'script.js'])).toBeNull();
    expect(summaryPathFromArgs(['run', '--summary-export'])).toBeNull();
    expect(summaryPathFromArgs(['run', '--summary-export='])).toBeNull();
    expect(summaryPathFromArgs(['run', 'x.js', '--', '--summary-export=no.json'])).toBeNull();
  });
});
