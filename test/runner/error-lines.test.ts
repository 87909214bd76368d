/** The error lines a failed run sends: which lines, how bounded, which secrets are masked. */
import { describe, expect, it } from 'vitest';
import { lastErrorLines, secretValues } from '../../src/runner/error-lines.js';

describe('secretValues', () => {
  it('takes the known values and those of secret-looking variables, not short or ordinary ones', () => {
    const env = {
      GITHUB_TOKEN: 'ghp_abcdefgh',
      PGPASSWORD: 'pg-secret-1',
      DB_PASS: 'db-secret-2',
      SENTRY_DSN: 'https://k@sentry.example/1',
      AWS_SECRET_ACCESS_KEY: 'aws-secret-3',
      K6_CLOUD_TOKEN: 'true', // too short to mask without wrecking every line
      PWD: '/home/ci/project',
      PATH: '/usr/bin',
      GIT_AUTHOR_NAME: 'Ada Lovelace',
      MONKEY: 'banana-split',
    };
    expect(secretValues(env, ['lnt_known-token', undefined]).sort()).toEqual(
      [
        'aws-secret-3',
        'db-secret-2',
        'ghp_abcdefgh',
        'https://k@sentry.example/1',
        'lnt_known-token',
        'pg-secret-1',
      ].sort(),
    );
  });
});

describe('lastErrorLines', () => {
  it('keeps the last non-empty lines, without colours or the redrawn states of a progress bar', () => {
    const stderr = '\u001b[31mERRO\u001b[0m[0001] boom\n\n  \nrunning 10%\rrunning 50%\rrunning 100%\nlast\n';
    expect(lastErrorLines(stderr, [])).toEqual(['ERRO[0001] boom', 'running 100%', 'last']);
  });

  it('masks the given values, loadnotify tokens, URL passwords and Authorization credentials', () => {
    const stderr = [
      'token s3cr3t-value in a sentence',
      'leaked lnt_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 here',
      'GET https://user:pa55word@api.example/v1 failed',
      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x',
      'json {"key":"s3cr3t-value"}',
    ].join('\n');
    expect(lastErrorLines(stderr, ['s3cr3t-value'])).toEqual([
      'token **** in a sentence',
      'leaked **** here',
      'GET https://user:****@api.example/v1 failed',
      'Authorization: Bearer ****',
      'json {"key":"****"}',
    ]);
  });

  it('masks before it cuts a long line, so no part of a secret is left at the cut', () => {
    const secret = 'z'.repeat(40);
    const [line] = lastErrorLines(`${'a'.repeat(280)}${secret}`, [secret]);
    expect(line).toBe(`${'a'.repeat(280)}****`);
  });
});
