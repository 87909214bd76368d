import { describe, expect, it } from 'vitest';
import { outcomeForExit, toolFor } from '../../src/runner/exit-profiles.js';

describe('k6 exit profile', () => {
  it.each([
    [0, 'finished', 'passed'],
    [99, 'finished', 'failed'],
    [100, 'timed_out', null],
    [101, 'timed_out', null],
    [102, 'timed_out', null],
    [105, 'aborted_by_user', null],
    [107, 'aborted_by_script_error', null],
    [108, 'aborted_by_user', null],
  ] as const)('maps exit %i to %s/%s', (code, status, result) => {
    expect(outcomeForExit('k6', code)).toEqual({ status, result });
  });

  it.each([1, 3, 97, 103, 104, 109, 110, 255])('maps unlisted exit %i to aborted_by_system', (code) => {
    expect(outcomeForExit('k6', code)).toEqual({ status: 'aborted_by_system', result: null });
  });
});

describe('generic exit profile', () => {
  it('passes on 0 and is aborted_by_system on anything else, k6 codes included', () => {
    expect(outcomeForExit('generic', 0)).toEqual({ status: 'finished', result: 'passed' });
    for (const code of [1, 3, 99, 105, 107, 255]) {
      expect(outcomeForExit('generic', code)).toEqual({ status: 'aborted_by_system', result: null });
    }
  });
});

describe('toolFor', () => {
  it('picks k6 by the basename only, and lets --tool win', () => {
    expect(toolFor('k6')).toBe('k6');
    expect(toolFor('/usr/local/bin/k6')).toBe('k6');
    expect(toolFor('C:\\tools\\K6.exe'.replaceAll('\\', '/'))).toBe('k6');
    expect(toolFor('k6-wrapper')).toBe('generic');
    expect(toolFor('/opt/k6/bin/artillery')).toBe('generic');
    expect(toolFor('node', 'k6')).toBe('k6');
    expect(toolFor('k6', 'generic')).toBe('generic');
  });
});
