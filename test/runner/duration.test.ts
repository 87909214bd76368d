import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/runner/duration.js';

describe('parseDuration', () => {
  it('reads seconds and k6-style durations', () => {
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('1.5')).toBe(1_500);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2m30s')).toBe(150_000);
    expect(parseDuration('250ms')).toBe(250);
  });

  it('rejects what is not a positive duration', () => {
    for (const text of [
      '',
      ' ',
      '0',
      '0s',
      '-5',
      'abc',
      '5x',
      '5 m',
      'm5',
      '1h-2m',
      '10d',
      '1e3',
      '99999999h',
    ]) {
      expect(parseDuration(text), text).toBeNull();
    }
  });
});
