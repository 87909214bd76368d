import { describe, expect, it } from 'vitest';
import { errorForExit, errorsForEnd, outcomeForExit, toolFor } from '../../src/runner/exit-profiles.js';

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
    [110, 'finished', 'failed'],
  ] as const)('maps exit %i to %s/%s', (code, status, result) => {
    expect(outcomeForExit('k6', code)).toEqual({ status, result });
  });

  it.each([1, 3, 97, 103, 104, 109, 255])('maps unlisted exit %i to aborted_by_system', (code) => {
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

describe('Artillery, autocannon and Locust exit profiles', () => {
  const figures = { requests: 10, failure_rate: 0 };
  const reported = { asked: true, summary: figures };
  const silent = { asked: true, summary: null };
  const notAsked = { asked: false, summary: null };
  it.each([
    ['artillery', 0, reported, 'finished', 'passed'],
    ['artillery', 1, reported, 'finished', 'failed'], // a strict ensure check failed
    ['artillery', 1, silent, 'aborted_by_system', null], // no report: it never ran
    ['artillery', 1, notAsked, 'finished', 'failed'], // --no-summary: taken as documented
    ['artillery', 7, reported, 'aborted_by_system', null],
    ['artillery', 130, silent, 'aborted_by_user', null],
    ['artillery', 143, silent, 'aborted_by_user', null],
    ['autocannon', 0, reported, 'finished', 'passed'],
    ['autocannon', 0, { asked: true, summary: { failure_rate: 0.01 } }, 'finished', 'failed'],
    ['autocannon', 0, notAsked, 'finished', 'passed'],
    ['autocannon', 1, silent, 'aborted_by_system', null],
    ['locust', 0, reported, 'finished', 'passed'],
    ['locust', 1, reported, 'finished', 'failed'],
    ['locust', 1, silent, 'aborted_by_system', null], // bad options: no stats printed
    ['locust', 3, { ...reported, locustFailureCode: 3 }, 'finished', 'failed'],
    ['locust', 1, { ...reported, locustFailureCode: 3 }, 'aborted_by_system', null],
    ['locust', 2, reported, 'aborted_by_script_error', null],
    ['locust', 2, silent, 'aborted_by_system', null], // argparse's usage error
    ['locust', 1, notAsked, 'finished', 'failed'],
  ] as const)('%s exit %i (%j) is %s/%s', (tool, code, evidence, status, result) => {
    expect(outcomeForExit(tool, code, [], evidence)).toEqual({ status, result });
  });

  it('says what an exit meant, and nothing for one that is a result', () => {
    expect(errorForExit('artillery', 1, { asked: true, summary: {} })).toBeNull();
    expect(errorForExit('artillery', 1, { asked: true, summary: null })).toMatch(
      /^artillery exited with 1: it stopped before writing its report/,
    );
    expect(errorForExit('artillery', 7)).toMatch(/Artillery Cloud/);
    expect(errorForExit('locust', 1, { asked: true, summary: {} })).toBeNull();
    expect(errorForExit('locust', 2, { asked: true, summary: {} })).toMatch(/exception escaped a greenlet/);
    expect(errorForExit('autocannon', 1, { asked: true, summary: null })).toMatch(/invalid options or URL/);
    expect(errorForExit('generic', 4)).toBe('the command exited with 4');
  });
});

describe('failed exit codes (--failed-exit-codes)', () => {
  it('maps the listed codes to finished/failed for any tool, never 0, and leaves the others', () => {
    expect(outcomeForExit('generic', 2, [1, 2])).toEqual({ status: 'finished', result: 'failed' });
    expect(outcomeForExit('generic', 3, [1, 2])).toEqual({ status: 'aborted_by_system', result: null });
    expect(outcomeForExit('generic', 0, [0])).toEqual({ status: 'finished', result: 'passed' });
    expect(outcomeForExit('k6', 109, [109])).toEqual({ status: 'finished', result: 'failed' });
  });
});

describe('toolFor', () => {
  it('picks the tool by the basename only, and lets --tool win', () => {
    expect(toolFor('k6')).toBe('k6');
    expect(toolFor('/usr/local/bin/k6')).toBe('k6');
    expect(toolFor('C:\\tools\\K6.exe'.replaceAll('\\', '/'))).toBe('k6');
    expect(toolFor('k6-wrapper')).toBe('generic');
    expect(toolFor('/opt/k6/bin/artillery')).toBe('artillery');
    expect(toolFor('node_modules/.bin/autocannon')).toBe('autocannon');
    expect(toolFor('/venv/bin/locust')).toBe('locust');
    expect(toolFor('C:/npm/artillery.cmd')).toBe('artillery');
    expect(toolFor('npx')).toBe('generic');
    expect(toolFor('generic')).toBe('generic');
    expect(toolFor('locust-plugins')).toBe('generic');
    expect(toolFor('node', 'k6')).toBe('k6');
    expect(toolFor('npx', 'autocannon')).toBe('autocannon');
    expect(toolFor('k6', 'generic')).toBe('generic');
  });
});

describe("a run's errors, as the wrapper reports them", () => {
  const end = (over: Record<string, unknown>) => ({
    exitCode: 0,
    code: 0,
    signal: null,
    stoppedBy: null,
    ...over,
  });
  const opts = { command: 'k6', timeoutMs: 90_000 };
  it.each([
    ['a clean exit', 'k6', end({}), []],
    ["k6's failed thresholds (a result, not an error)", 'k6', end({ code: 99 }), []],
    [
      'a script error',
      'k6',
      end({ code: 107 }),
      [{ code: 107, detail: 'k6 exited with 107: the script threw an error' }],
    ],
    [
      'test.fail() (a result, said because the thresholds may have held)',
      'k6',
      end({ code: 110 }),
      [
        {
          code: 110,
          detail: 'k6 exited with 110: the script marked the run as failed (test.fail()); it ran to its end',
        },
      ],
    ],
    ['an unlisted k6 code', 'k6', end({ code: 255 }), [{ code: 255, detail: 'the command exited with 255' }]],
    [
      '99 from another tool',
      'generic',
      end({ code: 99 }),
      [{ code: 99, detail: 'the command exited with 99' }],
    ],
    [
      'a timeout',
      'k6',
      end({ code: null, signal: 'SIGTERM', stoppedBy: 'timeout' }),
      [{ code: null, detail: 'the command ran past its 90 s timeout and was stopped' }],
    ],
    [
      'a stop by the user',
      'k6',
      end({ code: 0, stoppedBy: 'user' }),
      [{ code: null, detail: 'the run was stopped by the user' }],
    ],
    [
      'a signal from elsewhere',
      'k6',
      end({ code: null, signal: 'SIGKILL' }),
      [{ code: null, detail: 'the command was killed by SIGKILL' }],
    ],
    [
      'a command that is not there',
      'k6',
      end({ code: null, spawnError: Object.assign(new Error('spawn k6 ENOENT'), { code: 'ENOENT' }) }),
      [{ code: null, detail: 'cannot start k6: spawn k6 ENOENT' }],
    ],
  ] as const)('%s', (_, tool, ended, errors) => {
    expect(errorsForEnd(tool, ended as never, opts)).toEqual(errors);
  });
});
