import { describe, expect, it } from 'vitest';
import type { RunSnapshot } from '../core/events.js';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { RunContext } from '../core/run-context.js';
import { resolveChannelConfig } from '../http/channel-config.js';
import type { Exchange, ReceiverResponse, RenderContext } from './channel.js';
import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import {
  classifyGitHub,
  commentBody,
  commitTarget,
  escapeMarkdown,
  GITHUB_API_URL,
  githubChannel,
  statusDescription,
} from './github.js';
import { secretValues, redactForLog } from '../delivery/redact.js';

/** The channel's repositories, as a saved config has them. */
const ALLOWED = { repositories: ['acme/*'] };
const SHA = '3f786850e387550fdab836ed7e6dc881de23001b';
const TOKEN = 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz';
const CONTEXT: RunContext = {
  vcs: { sha: SHA, branch: 'faster-cart', repository: 'https://github.com/acme/shop', pull_request: 7 },
  ci: { provider: 'github_actions', job_url: 'https://github.com/acme/shop/actions/runs/99' },
};
const run = (over: Partial<RunSnapshot> = {}): RunSnapshot =>
  runSnapshot({ ...CHECKOUT, context: CONTEXT, ...over });
const finished = (over: Partial<RunSnapshot> = {}) => storedEvent({ type: 'test.finished', run: run(over) });
const started = () =>
  storedEvent({ type: 'test.started', run: run({ status: 'running', result: null, ended_at: null }) });
const channel = (config: Record<string, unknown> = {}) =>
  deliveryChannel({
    type: 'github',
    name: 'Shop PRs',
    url: GITHUB_API_URL,
    config: { token: TOKEN, repositories: ['acme/*'], pull_request_comments: false, ...config },
  });
const json = (status: number, body: unknown, headers: Record<string, string> = {}): ReceiverResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  body: JSON.stringify(body),
});

describe('github render: the commit status', () => {
  it('posts pending at the start and failure at a failed end, linked to the run, within 140 characters', () => {
    const start = githubChannel.render(started(), channel(), RENDER_CTX);
    expect(start).toMatchObject({
      method: 'POST',
      url: `https://api.github.com/repos/acme/shop/statuses/${SHA}`,
    });
    expect(start.headers).toMatchObject({
      Authorization: `Bearer ${TOKEN}`,
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
    });
    expect(JSON.parse(start.body)).toEqual({
      state: 'pending',
      target_url: 'https://loadnotify.example.com/runs/42',
      description: 'Run #42 started',
      context: 'loadnotify/Checkout',
    });

    const end = githubChannel.render(
      finished({
        result: 'failed',
        summary: { p95_ms: 241.7, failure_rate: 0.0312, requests: 48213 },
        comparison: {
          against: 'previous',
          run_id: 41,
          figures: { p95_ms: { value: 241.7, base: 204.8, delta: 36.9, delta_percent: 18 } },
        },
      }),
      channel(),
      RENDER_CTX,
    );
    const body = JSON.parse(end.body);
    expect(body.state).toBe('failure');
    expect(body.description).toBe(
      'Run #42 failed its thresholds · Failure rate 3.12% · p95 242 ms, +18% vs run #41',
    );
    expect(body.description.length).toBeLessThanOrEqual(140);
  });

  it.each([
    ['finished', 'passed', 'success'],
    ['finished', null, 'success'],
    ['finished', 'failed', 'failure'],
    ['aborted_by_threshold', 'failed', 'failure'],
    ['timed_out', null, 'error'],
    ['aborted_by_user', null, 'error'],
  ] as const)('maps %s/%s to %s', (status, result, state) => {
    const request = githubChannel.render(finished({ status, result }), channel(), RENDER_CTX);
    expect(JSON.parse(request.body).state).toBe(state);
  });

  it('keeps a long description and name within GitHub’s limits', () => {
    const request = githubChannel.render(
      finished({
        load_test_name: 'x'.repeat(300),
        run_id: 123456789,
        summary: { p95_ms: 1, failure_rate: 0.5, checks: 0.5, request_rate: 99 },
      }),
      channel({}),
      RENDER_CTX,
    );
    const body = JSON.parse(request.body);
    expect(body.description.length).toBeLessThanOrEqual(140);
    expect(body.context.length).toBeLessThanOrEqual(100);
  });

  it('uses the channel’s URL as the API base (GitHub Enterprise Server)', () => {
    const request = githubChannel.render(
      started(),
      { ...channel(), url: 'https://ghe.example.com/api/v3/' },
      RENDER_CTX,
    );
    expect(request.url).toBe(`https://ghe.example.com/api/v3/repos/acme/shop/statuses/${SHA}`);
  });

  it('checks the token with a request that writes nothing for the Test Hook', () => {
    const request = githubChannel.render(
      storedEvent({ type: 'test.notification_channel', run: null }),
      channel(),
      RENDER_CTX,
    );
    expect(request).toMatchObject({ method: 'POST', url: 'https://api.github.com/markdown' });
    expect(JSON.parse(request.body).text).toContain('Shop PRs');
  });
});

describe('github skip: runs without a commit on GitHub', () => {
  const skip = (context: RunContext | null) =>
    githubChannel.skip!({ type: 'test.finished', run: run({ context }) }, ALLOWED);

  it('sends runs with a full commit and an owner/repo address', () => {
    expect(skip(CONTEXT)).toBeNull();
    expect(skip({ vcs: { sha: SHA, repository: 'https://ghe.example.com/acme/shop.git/' } })).toBeNull();
    expect(githubChannel.skip!({ type: 'test.notification_channel', run: null }, ALLOWED)).toBeNull();
  });

  it.each<[RunContext | null, RegExp]>([
    [null, /names no commit \(context\.vcs\.sha\)/],
    [{ vcs: { repository: 'https://github.com/acme/shop' } }, /names no commit/],
    [{ vcs: { sha: SHA } }, /names no repository \(context\.vcs\.repository\)/],
    [{ vcs: { sha: '3f78685', repository: 'https://github.com/acme/shop' } }, /3f78685 is abbreviated/],
    [{ vcs: { sha: SHA, repository: 'https://github.com/acme' } }, /not a repository address/],
    [{ vcs: { sha: SHA, repository: 'https://gitlab.com/acme/shop' } }, /on GitLab, not GitHub/],
    [{ vcs: { sha: SHA, repository: 'https://bitbucket.org/acme/shop' } }, /on Bitbucket/],
    [
      { vcs: { sha: SHA, repository: 'https://git.acme.io/a/b' }, ci: { provider: 'gitlab_ci' } },
      /on GitLab/,
    ],
  ])('skips %j with the reason', (context, reason) => {
    expect(skip(context)).toMatch(reason);
  });

  it('reads the target like the delivery does', () => {
    expect(commitTarget(run(), 'github')).toEqual({ sha: SHA, path: ['acme', 'shop'], pullRequest: 7 });
  });
});

describe('github next: the pull-request comment', () => {
  const ctx = (remembered: string | null = null): RenderContext => ({ ...RENDER_CTX, remembered });
  const withComments = channel({ pull_request_comments: true });
  const statusDone = (event = finished()): Exchange => ({
    request: githubChannel.render(event, withComments, ctx()),
    response: json(201, { id: 1, state: 'success' }),
  });

  it('keeps no state and sends no comment without the setting, a pull request, or at a start', () => {
    expect(githubChannel.stateKey!(finished(), channel())).toBeNull();
    expect(githubChannel.stateKey!(started(), withComments)).toBeNull();
    const noPr = finished({ context: { vcs: { ...CONTEXT.vcs, pull_request: undefined } } });
    expect(githubChannel.stateKey!(noPr, withComments)).toBeNull();
    expect(githubChannel.next!(finished(), channel(), ctx(), [statusDone()])).toEqual({
      end: { kind: 'delivered' },
    });
  });

  it('creates the comment after the status and remembers its id', () => {
    expect(githubChannel.stateKey!(finished(), withComments)).toBe('pr:acme/shop#7:lt:3');
    const step = githubChannel.next!(finished(), withComments, ctx(), [statusDone()]);
    expect(step).toMatchObject({
      request: { method: 'POST', url: 'https://api.github.com/repos/acme/shop/issues/7/comments' },
    });
    const request = (step as { request: { body: string } }).request;
    const created: Exchange = {
      request: request as Exchange['request'],
      response: json(201, { id: 1234567, body: '' }),
    };
    expect(githubChannel.next!(finished(), withComments, ctx(), [statusDone(), created])).toEqual({
      end: { kind: 'delivered' },
      remember: '1234567',
    });
  });

  it('edits the remembered comment, and posts a new one when it was deleted', () => {
    const step = githubChannel.next!(finished(), withComments, ctx('1234567'), [statusDone()]);
    expect(step).toMatchObject({
      request: { method: 'PATCH', url: 'https://api.github.com/repos/acme/shop/issues/comments/1234567' },
    });
    const edit = (step as { request: Exchange['request'] }).request;
    expect(
      githubChannel.next!(finished(), withComments, ctx('1234567'), [
        statusDone(),
        { request: edit, response: json(200, { id: 1234567 }) },
      ]),
    ).toEqual({ end: { kind: 'delivered' }, remember: '1234567' });
    const gone = githubChannel.next!(finished(), withComments, ctx('1234567'), [
      statusDone(),
      { request: edit, response: json(404, { message: 'Not Found' }) },
    ]);
    expect(gone).toMatchObject({
      request: { method: 'POST', url: expect.stringMatching(/\/issues\/7\/comments$/) },
    });
  });

  it('ends with the status’s refusal without commenting', () => {
    const refused: Exchange = { ...statusDone(), response: json(401, { message: 'Bad credentials' }) };
    expect(githubChannel.next!(finished(), withComments, ctx(), [refused])).toMatchObject({
      end: { kind: 'permanent', reason: expect.stringContaining('Bad credentials') },
    });
  });

  it('writes the result, the comparison, the source and links, escaping user text', () => {
    const body = commentBody(
      {
        type: 'test.finished',
        run: run({
          load_test_name: 'Checkout @ops-team | <b>',
          result: 'failed',
          summary: { p95_ms: 241.7 },
          comparison: {
            against: 'previous',
            run_id: 41,
            figures: { p95_ms: { value: 241.7, base: 204.8, delta: 36.9, delta_percent: 18 } },
          },
          previous: { run_id: 41, status: 'finished', result: 'passed' },
        }),
      },
      'https://loadnotify.example.com',
    );
    expect(body).toContain('<!-- loadnotify: load test 3 -->');
    expect(body).toContain(
      '### ❌ Checkout @\u200bops\\-team \\| \\<b\\>: run \\#42 broke \\(failed its thresholds\\)',
    );
    expect(body).toContain('| p95 | 242 ms, \\+18% vs run \\#41 |');
    expect(body).toContain(`[3f786850e387](https://github.com/acme/shop/commit/${SHA})`);
    expect(body).toContain('[\\#7](https://github.com/acme/shop/pull/7)');
    expect(body).toContain('[View run #42 in loadnotify](https://loadnotify.example.com/runs/42)');
    expect(body).toContain('Checkout @\u200bops\\-team \\| \\<b\\>');
    expect(body).not.toContain('@ops');
  });

  it('escapes what Markdown would format', () => {
    expect(escapeMarkdown('[x](javascript:y) *a* @b')).toBe('\\[x\\]\\(javascript:y\\) \\*a\\* @\u200bb');
    // Names that would become links, or GitLab references, stay text.
    expect(escapeMarkdown('see https://evil.example and www.evil.example %1 $2 &3')).toBe(
      'see https:\u200b//evil.example and www\u200b.evil.example \\%1 \\$2 \\&3',
    );
  });
});

describe('classifyGitHub', () => {
  it('delivers 2xx', () => {
    expect(classifyGitHub(json(201, { id: 1 }))).toEqual({ kind: 'delivered' });
  });

  it.each([
    [
      401,
      { message: 'Bad credentials' },
      /HTTP 401: Bad credentials \(the token is wrong, expired or revoked/,
    ],
    [403, { message: 'Resource not accessible by personal access token' }, /Commit statuses/],
    [404, { message: 'Not Found' }, /HTTP 404: Not Found \(the token cannot see this repository/],
    [
      422,
      {
        message: 'Validation Failed',
        errors: [
          {
            resource: 'Status',
            field: 'description',
            message: 'description is too long (maximum is 140 characters)',
          },
        ],
      },
      /HTTP 422: Validation Failed: description is too long/,
    ],
  ])('makes %i permanent with GitHub’s message', (status, body, reason) => {
    const verdict = classifyGitHub(json(status, body));
    expect(verdict.kind).toBe('permanent');
    expect((verdict as { reason: string }).reason).toMatch(reason);
  });

  it('retries a primary rate limit after x-ratelimit-reset', () => {
    const reset = Math.floor(Date.now() / 1000) + 120;
    const verdict = classifyGitHub(
      json(
        403,
        { message: 'API rate limit exceeded for user ID 1.' },
        { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      ),
    );
    expect(verdict.kind).toBe('retry');
    const after = (verdict as { afterMs: number }).afterMs;
    expect(after).toBeGreaterThan(110_000);
    expect(after).toBeLessThanOrEqual(120_000);
  });

  it('retries a secondary rate limit after retry-after, else a minute', () => {
    expect(
      classifyGitHub(
        json(429, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '30' }),
      ),
    ).toMatchObject({ kind: 'retry', afterMs: 30_000 });
    expect(classifyGitHub(json(403, { message: 'You have exceeded a secondary rate limit.' }))).toMatchObject(
      {
        kind: 'retry',
        afterMs: 60_000,
      },
    );
  });

  it('retries 5xx', () => {
    expect(classifyGitHub({ status: 502, headers: {}, body: 'Bad gateway' }).kind).toBe('retry');
  });
});

describe('github config', () => {
  it('takes a token (secret) and the comment setting, off by default', () => {
    const resolved = resolveChannelConfig(githubChannel, { token: TOKEN, repositories: ['acme/*'] });
    expect(resolved.config).toEqual({ repositories: ['acme/*'], pull_request_comments: false });
    expect(resolved.secrets).toEqual({ token: TOKEN });
  });

  it('refuses a token with a space, naming the field', () => {
    expect(() =>
      resolveChannelConfig(githubChannel, { token: 'two words', repositories: ['acme/*'] }),
    ).toThrow(/config\.token/);
  });

  it('refuses the website and URLs with a query as the API base', () => {
    expect(githubChannel.checkUrl(new URL('https://github.com'))).toMatch(
      /GitHub's website; its API is at https:\/\/api\.github\.com/,
    );
    expect(githubChannel.checkUrl(new URL('https://api.github.com/?token=x'))).toMatch(/no query/);
    expect(githubChannel.checkUrl(new URL('https://ghe.example.com/api/v3'))).toBeNull();
  });

  it('hides the token and the Authorization header made from it in the log', () => {
    const c = channel();
    const request = githubChannel.render(started(), c, RENDER_CTX);
    const logged = redactForLog(request, secretValues(githubChannel, c));
    expect(JSON.stringify(logged)).not.toContain(TOKEN);
    expect(logged.headers.Authorization).toBe('Bearer ****');
  });

  it('describes a status without a trailing run of figures when there are none', () => {
    expect(statusDescription(finished().data as never, 'https://x')).toBe('Run #42 passed');
  });
});
