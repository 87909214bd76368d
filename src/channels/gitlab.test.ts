import { describe, expect, it } from 'vitest';
import type { RunSnapshot } from '../core/events.js';
import type { RunContext } from '../core/run-context.js';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import { secretValues, redactForLog } from '../delivery/redact.js';
import type { Exchange, ReceiverResponse, RenderContext } from './channel.js';
import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import { classifyGitLab, GITLAB_URL, gitlabChannel } from './gitlab.js';

/** The channel's repositories, as a saved config has them. */
const ALLOWED = { repositories: ['acme/*'] };
const SHA = '3f786850e387550fdab836ed7e6dc881de23001b';
const TOKEN = 'glpat-0123456789abcdefghij';
const CONTEXT: RunContext = {
  vcs: { sha: SHA, repository: 'https://gitlab.com/acme/web/shop', pull_request: 12 },
  ci: { provider: 'gitlab_ci', job_url: 'https://gitlab.com/acme/web/shop/-/jobs/5' },
};
const run = (over: Partial<RunSnapshot> = {}): RunSnapshot =>
  runSnapshot({ ...CHECKOUT, context: CONTEXT, ...over });
const finished = (over: Partial<RunSnapshot> = {}) => storedEvent({ type: 'test.finished', run: run(over) });
const started = () =>
  storedEvent({ type: 'test.started', run: run({ status: 'running', result: null, ended_at: null }) });
const channel = (config: Record<string, unknown> = {}) =>
  deliveryChannel({
    type: 'gitlab',
    name: 'Shop MRs',
    url: GITLAB_URL,
    config: { token: TOKEN, repositories: ['acme/*'], merge_request_notes: false, ...config },
  });
const json = (status: number, body: unknown, headers: Record<string, string> = {}): ReceiverResponse => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
const ctx = (remembered: string | null = null): RenderContext => ({ ...RENDER_CTX, remembered });
const STATUS_URL = `https://gitlab.com/api/v4/projects/acme%2Fweb%2Fshop/statuses/${SHA}`;

describe('gitlab render: the commit status', () => {
  it('posts running at the start and failed at the end, to the URL-encoded project path', () => {
    const start = gitlabChannel.render(started(), channel(), RENDER_CTX);
    expect(start).toMatchObject({ method: 'POST', url: STATUS_URL });
    expect(start.headers['PRIVATE-TOKEN']).toBe(TOKEN);
    expect(JSON.parse(start.body)).toEqual({
      state: 'running',
      name: 'loadnotify/Checkout',
      target_url: 'https://loadnotify.example.com/runs/42',
      description: 'Run #42 started',
    });
    const end = gitlabChannel.render(finished({ result: 'failed' }), channel(), RENDER_CTX);
    expect(JSON.parse(end.body)).toMatchObject({
      state: 'failed',
      description: 'Run #42 failed its thresholds',
    });
  });

  it.each([
    ['finished', 'passed', 'success'],
    ['timed_out', null, 'failed'],
    ['aborted_by_user', null, 'canceled'],
  ] as const)('maps %s/%s to %s', (status, result, state) => {
    expect(
      JSON.parse(gitlabChannel.render(finished({ status, result }), channel(), RENDER_CTX).body).state,
    ).toBe(state);
  });

  it('uses a self-managed instance’s address, and checks the token with the Test Hook', () => {
    const c = { ...channel(), url: 'https://git.example.com/gitlab/' };
    expect(gitlabChannel.render(started(), c, RENDER_CTX).url).toBe(
      `https://git.example.com/gitlab/api/v4/projects/acme%2Fweb%2Fshop/statuses/${SHA}`,
    );
    const hook = gitlabChannel.render(
      storedEvent({ type: 'test.notification_channel', run: null }),
      c,
      RENDER_CTX,
    );
    expect(hook).toMatchObject({ method: 'POST', url: 'https://git.example.com/gitlab/api/v4/markdown' });
  });

  it('refuses an address with /api/v4, and hides the token in the log', () => {
    expect(gitlabChannel.checkUrl(new URL('https://gitlab.com/api/v4'))).toMatch(/without \/api\/v4/);
    expect(gitlabChannel.checkUrl(new URL('https://git.example.com'))).toBeNull();
    const c = channel();
    const logged = redactForLog(
      gitlabChannel.render(started(), c, RENDER_CTX),
      secretValues(gitlabChannel, c),
    );
    expect(logged.headers['PRIVATE-TOKEN']).toBe('****');
  });

  it('skips runs on GitHub or without a commit', () => {
    expect(gitlabChannel.skip!({ type: 'test.finished', run: run() }, ALLOWED)).toBeNull();
    const github = run({ context: { vcs: { sha: SHA, repository: 'https://github.com/acme/shop' } } });
    expect(gitlabChannel.skip!({ type: 'test.finished', run: github }, ALLOWED)).toMatch(
      /on GitHub, not GitLab/,
    );
    expect(gitlabChannel.skip!({ type: 'test.finished', run: run({ context: null }) }, ALLOWED)).toMatch(
      /names no commit/,
    );
  });
});

describe('gitlab next: the merge-request note', () => {
  const withNotes = channel({ merge_request_notes: true });
  const statusDone: Exchange = {
    request: gitlabChannel.render(finished(), withNotes, ctx()),
    response: json(201, { id: 93, status: 'success' }),
  };
  const notes = 'https://gitlab.com/api/v4/projects/acme%2Fweb%2Fshop/merge_requests/12/notes';

  it('creates the note and remembers it, then edits it with PUT, and posts anew when it is gone', () => {
    expect(gitlabChannel.stateKey!(finished(), withNotes)).toBe('mr:acme/web/shop!12:lt:3');
    const create = gitlabChannel.next!(finished(), withNotes, ctx(), [statusDone]);
    expect(create).toMatchObject({ request: { method: 'POST', url: notes } });
    const created: Exchange = {
      request: (create as any).request,
      response: json(201, { id: 301, body: '' }),
    };
    expect(gitlabChannel.next!(finished(), withNotes, ctx(), [statusDone, created])).toEqual({
      end: { kind: 'delivered' },
      remember: '301',
    });
    const edit = gitlabChannel.next!(finished(), withNotes, ctx('301'), [statusDone]);
    expect(edit).toMatchObject({ request: { method: 'PUT', url: `${notes}/301` } });
    const gone = gitlabChannel.next!(finished(), withNotes, ctx('301'), [
      statusDone,
      { request: (edit as any).request, response: json(404, { message: '404 Not found' }) },
    ]);
    expect(gone).toMatchObject({ request: { method: 'POST', url: notes } });
  });
});

describe('classifyGitLab', () => {
  it('takes a status already where it is sent as delivered (a retry after it got through)', () => {
    const again = json(400, {
      message:
        'Cannot transition status via :run from :running (Reason(s): Status cannot transition via "run")',
    });
    expect(classifyGitLab(again)).toEqual({ kind: 'delivered' });
  });

  it.each([
    [401, { message: '401 Unauthorized' }, /HTTP 401: 401 Unauthorized \(the token is wrong/],
    [403, { message: '403 Forbidden' }, /api scope and at least the Developer role/],
    [404, { message: '404 Project Not Found' }, /404 Project Not Found \(the token cannot see this project/],
    [400, { message: { description: ['is too long'] } }, /HTTP 400: description is too long/],
    [400, { error: 'state does not have a valid value' }, /state does not have a valid value/],
  ])('makes %i permanent with GitLab’s message', (status, body, reason) => {
    const verdict = classifyGitLab(json(status, body));
    expect(verdict.kind).toBe('permanent');
    expect((verdict as { reason: string }).reason).toMatch(reason);
  });

  it('retries 429 after Retry-After, else RateLimit-Reset', () => {
    expect(classifyGitLab(json(429, { message: 'Retry later' }, { 'retry-after': '20' }))).toMatchObject({
      kind: 'retry',
      afterMs: 20_000,
    });
    const reset = String(Math.floor(Date.now() / 1000) + 60);
    const verdict = classifyGitLab(json(429, { message: 'Retry later' }, { 'ratelimit-reset': reset }));
    expect((verdict as { afterMs: number }).afterMs).toBeGreaterThan(50_000);
  });
});
