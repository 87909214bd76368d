import { describe, expect, it } from 'vitest';
import { LineLog } from '../../src/scheduler/line-log.js';
import { checkCron, nextRuns, scheduleColumns, scheduleOf } from '../../src/scheduler/schedule-spec.js';

describe('schedule expressions', () => {
  it('accepts five-, six- and seven-part expressions and nicknames in a valid zone', () => {
    for (const cron of ['*/5 * * * *', '* * * * * *', '0 0 12 * * * 2099', '@hourly']) {
      expect(checkCron(cron, 'UTC'), cron).toBeNull();
    }
    expect(checkCron('0 9 * * 1-5', 'America/New_York')).toBeNull();
  });

  it('names schedule.cron or schedule.timezone with croner’s reason', () => {
    expect(checkCron('every minute', 'UTC')).toMatchObject({ field: 'schedule.cron' });
    expect(checkCron('61 * * * *', 'UTC')?.message).toMatch(/^schedule\.cron .*minute/);
    expect(checkCron('* * * * *', 'Nowhere/Land')).toMatchObject({ field: 'schedule.timezone' });
    expect(checkCron('0 0 30 2 *', 'UTC')?.message).toMatch(/never fires/);
  });

  it('computes fire times in the schedule’s zone', () => {
    const from = new Date('2026-07-01T00:00:00Z');
    const times = nextRuns('0 9 * * *', 'Europe/Berlin', 3, from).map((d) => d.toISOString());
    expect(times).toEqual([
      '2026-07-01T07:00:00.000Z',
      '2026-07-02T07:00:00.000Z',
      '2026-07-03T07:00:00.000Z',
    ]);
    const winter = nextRuns('0 9 * * *', 'Europe/Berlin', 1, new Date('2026-12-01T00:00:00Z'));
    expect(winter[0]!.toISOString()).toBe('2026-12-01T08:00:00.000Z');
    expect(nextRuns('bad', 'UTC', 3)).toEqual([]);
  });

  it('stores and reads back a schedule; a cleared one reads as none', () => {
    const schedule = {
      command: ['k6', 'run', 'a b.js'],
      cron: '* * * * *',
      timezone: 'UTC',
      enabled: true,
      timeoutMs: 5000,
    };
    expect(scheduleOf(scheduleColumns(schedule))).toEqual(schedule);
    expect(scheduleOf(scheduleColumns(null))).toBeNull();
  });
});

describe('LineLog', () => {
  it('hands on whole lines, cuts long ones and stops after the line limit with one note', () => {
    const lines: string[] = [];
    const log = new LineLog((l) => lines.push(l), 3, 10);
    log.write('one\ntw');
    log.write('o\r\n' + 'x'.repeat(25));
    log.write('\nfour\nfive\nsix\n');
    log.flush();
    expect(lines).toEqual(['one', 'two', 'xxxxxxxxxx…', '(further output not logged: over 3 lines)']);
  });
});
