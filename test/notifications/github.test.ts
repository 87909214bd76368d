import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer, runCalls } from '../helpers/server.js';
import { eventually, startReceiver, type Answer, type Receiver, type Received } from '../helpers/receiver.js';

const PUBLIC_URL = 'https://loadnotify.example.com/base';
const TOKEN = 'github_pat_11AAAAAAA0abcdefghijklmno_pqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const SHA = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3';
const CONTEXT = {
  vcs: { sha: SHA, branch: 'faster-cart', repository: 'https://github.com/acme/shop', pull_request: 7 },
  ci: { provider: 'github_actions', job_url: 'https://github.com/acme/shop/actions/runs/99' },
};

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', 'x-ratelimit-remaining': '4999', ...headers },
  body: JSON.stringify(body),
});

/**
 * A local stand-in for api.github.com that answers as GitHub documents: statuses are created
 * (201), issue comments are created (201, with their id) and edited (200) while they exist,
 * 404 once deleted. `override` answers a request first when it returns something.
 */
function github(override: (n: number, req: Received) => Answer | undefined = () => undefined) {
  const comments = new Map<number, string>();
  let nextId = 1001;
  const answer = (n: number, req: Received): Answer => {
    const special = override(n, req);
    if (special) return special;
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { message: 'Bad credentials' });
    const path = req.url.replace(/^\/api\/v3(?=\/)/, '');
    if (req.method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/statuses\/[0-9a-f]{40}$/.test(path))
      return json(201, { id: n, ...JSON.parse(req.body) });
    const created = /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(path);
    if (req.method === 'POST' && created) {
      const id = nextId++;
      comments.set(id, JSON.parse(req.body).body);
      return json(201, {
        id,
        html_url: `https://github.com/acme/shop/pull/${created[1]}#issuecomment-${id}`,
      });
    }
    const edited = /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(path);
    if (req.method === 'PATCH' && edited) {
      const id = Number(edited[1]);
      if (!comments.has(id)) return json(404, { message: 'Not Found' });
      comments.set(id, JSON.parse(req.body).body);
      return json(200, { id });
    }
    if (req.method === 'POST' && path === '/markdown')
      return { status: 200, headers: { 'content-type': 'text/html' }, body: '<p>ok</p>' };
    return json(404, { message: 'Not Found' });
  };
  return { answer, comments };
}

describe.each(DIALECTS)('GitHub channels end to end (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  const receivers: Receiver[] = [];
  const receiver = async (answer: (n: number, req: Received) => Answer) => {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  };
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_RETRY_SCALE: '0.01', PUBLIC_URL },
    });
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' }));
  });
  afterEach(async () => {
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => t.close());

  const channel = async (url: string, config: Record<string, unknown> = {}) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'github',
        name: 'Shop commits',
        url,
        config: { token: TOKEN, repositories: ['acme/*'], ...config },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const { move, testHook } = runCalls(
    () => t,
    () => loadTestId,
  );
  /** A run of the load test with `context`, moved to running and then finished as `end` says. */
  const run = async (context: unknown, end: Record<string, unknown> = { result: 'failed' }) => {
    const created = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      body: { trigger: 'api', ...(context ? { context } : {}) },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await move(created.body.id, { status: 'running' })).status).toBe(200);
    expect((await move(created.body.id, { status: 'finished', ...end })).status).toBe(200);
    return created.body.id as number;
  };
  const deliveries = (channelId: number, count: number, done = (d: any) => d.state !== 'pending') =>
    eventually(async () => {
      const l = await t.api('GET', `/api/v1/notification-channels/${channelId}/deliveries`);
      return l.body.items.length === count && l.body.items.every(done) ? (l.body.items as any[]) : undefined;
    }, 15_000);
  const detail = async (id: number) => (await t.api('GET', `/api/v1/deliveries/${id}`)).body;

  it('sets the commit status pending at the start and failure at the end, linked to the run', async () => {
    const gh = github();
    const r = await receiver(gh.answer);
    const c = await channel(r.url('/api/v3'));
    expect(c.secrets_set).toEqual(['token']);
    expect(c.config).toEqual({ repositories: ['acme/*'], pull_request_comments: false });

    const id = await run(CONTEXT, { result: 'failed', summary: { p95_ms: 412, failure_rate: 0.02 } });
    const [start, end] = await r.waitFor(2);
    for (const q of [start!, end!]) {
      expect(q.method).toBe('POST');
      expect(q.url).toBe(`/api/v3/repos/acme/shop/statuses/${SHA}`);
      expect(q.headers).toMatchObject({
        authorization: `Bearer ${TOKEN}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'content-type': 'application/json',
      });
    }
    expect(JSON.parse(start!.body)).toEqual({
      state: 'pending',
      target_url: `${PUBLIC_URL}/runs/${id}`,
      description: `Run #${id} started`,
      context: 'loadnotify/Checkout',
    });
    expect(JSON.parse(end!.body)).toEqual({
      state: 'failure',
      target_url: `${PUBLIC_URL}/runs/${id}`,
      description: `Run #${id} failed its thresholds · Failure rate 2.00% · p95 412 ms`,
      context: 'loadnotify/Checkout',
    });
    const items = await deliveries(c.id, 2);
    expect(
      items.map((d) => d.state),
      JSON.stringify(items),
    ).toEqual(['delivered', 'delivered']);
    // No comment without the setting, though the run names a pull request.
    await new Promise((res) => setTimeout(res, 200));
    expect(r.requests).toHaveLength(2);
  });

  it('comments once on the pull request and edits that comment on the next run', async () => {
    const gh = github();
    const r = await receiver(gh.answer);
    const c = await channel(r.url(''), { pull_request_comments: true });

    const first = await run(CONTEXT, { result: 'failed', summary: { p95_ms: 412 } });
    await r.waitFor(3); // start status, end status, new comment
    await deliveries(c.id, 2);
    const second = await run(CONTEXT, { result: 'passed', summary: { p95_ms: 350 } });
    await r.waitFor(6);
    await deliveries(c.id, 4);

    const calls = r.requests.map((q) => `${q.method} ${q.url}`);
    expect(calls).toEqual([
      `POST /repos/acme/shop/statuses/${SHA}`,
      `POST /repos/acme/shop/statuses/${SHA}`,
      'POST /repos/acme/shop/issues/7/comments',
      `POST /repos/acme/shop/statuses/${SHA}`,
      `POST /repos/acme/shop/statuses/${SHA}`,
      'PATCH /repos/acme/shop/issues/comments/1001',
    ]);
    expect(gh.comments.size).toBe(1);
    const comment = gh.comments.get(1001)!;
    expect(comment).toContain(`run \\#${second} recovered \\(passed\\)`);
    expect(comment).toContain(`| p95 | 350 ms, \\-15% vs run \\#${first} |`);
    expect(comment).toContain(`[View run #${second} in loadnotify](${PUBLIC_URL}/runs/${second})`);
    expect(comment).toContain(`(https://github.com/acme/shop/commit/${SHA})`);
    expect(JSON.parse(r.requests[1]!.body).state).toBe('failure');
    expect(JSON.parse(r.requests[4]!.body).state).toBe('success');

    // The attempt log keeps the last request of each notification (the comment), token hidden.
    const items = await deliveries(c.id, 4);
    const ended = await detail(items.find((d) => d.event_type === 'test.finished').id);
    expect(ended.attempts).toHaveLength(1);
    expect(ended.attempts[0]).toMatchObject({ outcome: 'delivered', response_status: 200 });
    expect(ended.attempts[0].request_headers.Authorization).toBe('Bearer ****');
    const shown = JSON.stringify([c, items, await Promise.all(items.map((d) => detail(d.id)))]);
    expect(shown).not.toContain(TOKEN);
  });

  it('posts a new comment when the remembered one was deleted', async () => {
    const gh = github();
    const r = await receiver(gh.answer);
    const c = await channel(r.url(''), { pull_request_comments: true });
    await run(CONTEXT);
    await r.waitFor(3);
    await deliveries(c.id, 2);
    gh.comments.clear(); // someone deleted it on GitHub
    await run(CONTEXT);
    await r.waitFor(7);
    await deliveries(c.id, 4, (d) => d.state === 'delivered');
    expect(r.requests.slice(5).map((q) => `${q.method} ${q.url}`)).toEqual([
      'PATCH /repos/acme/shop/issues/comments/1001',
      'POST /repos/acme/shop/issues/7/comments',
    ]);
    expect([...gh.comments.keys()]).toEqual([1002]);
    // And the next run edits the new one.
    await run(CONTEXT);
    await r.waitFor(10);
    expect(`${r.requests[9]!.method} ${r.requests[9]!.url}`).toBe(
      'PATCH /repos/acme/shop/issues/comments/1002',
    );
  });

  it('skips a run without a commit, with the reason in the delivery log, sending nothing', async () => {
    const r = await receiver(github().answer);
    const c = await channel(r.url(''));
    await run(null);
    await run({ vcs: { sha: SHA } });
    const items = await deliveries(c.id, 4);
    expect(items.map((d) => d.state)).toEqual(['skipped', 'skipped', 'skipped', 'skipped']);
    const reasons = items.map((d) => d.last_error);
    expect(reasons.filter((e) => /names no commit \(context\.vcs\.sha\)/.test(e))).toHaveLength(2);
    expect(reasons.filter((e) => /names no repository \(context\.vcs\.repository\)/.test(e))).toHaveLength(2);
    expect(r.requests).toHaveLength(0);
    // Skips do not count against the channel.
    const saved = await t.api('GET', `/api/v1/notification-channels/${c.id}`);
    expect(saved.body.enabled).toBe(true);
  });

  it('stops at 401 with GitHub’s message, and checks the token with the Test Hook', async () => {
    const r = await receiver(github().answer);
    const good = await channel(r.url(''));
    const hook = await testHook(good.id);
    expect(hook.body).toMatchObject({ outcome: 'delivered' });
    expect(`${r.requests[0]!.method} ${r.requests[0]!.url}`).toBe('POST /markdown');

    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'github',
        name: 'Old token',
        url: r.url(''),
        config: { token: 'ghp_revoked0000', repositories: ['acme/*'] },
      },
    });
    const bad = res.body;
    const failed = await testHook(bad.id);
    expect(failed.body).toMatchObject({
      outcome: 'failed',
      attempt: { response_status: 401, outcome: 'permanent' },
    });
    expect(failed.body.reason).toContain('HTTP 401: Bad credentials (the token is wrong, expired or revoked');
    await run(CONTEXT);
    const items = await deliveries(bad.id, 3, (d) => d.state === 'failed');
    for (const d of items) {
      const full = await detail(d.id);
      expect(full.attempts).toHaveLength(1);
      expect(full.last_error).toContain('Bad credentials');
    }
    expect(JSON.stringify(await Promise.all(items.map((d) => detail(d.id))))).not.toContain(
      'ghp_revoked0000',
    );
  });

  it('waits out a rate limit (403, x-ratelimit-remaining 0) and then delivers', async () => {
    const reset = () => String(Math.floor(Date.now() / 1000) + 30);
    const r = await receiver(
      github((n) =>
        n === 1
          ? json(
              403,
              { message: 'API rate limit exceeded for user ID 1.' },
              { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset() },
            )
          : undefined,
      ).answer,
    );
    const c = await channel(r.url(''));
    const hook = await testHook(c.id);
    expect(hook.body.attempt).toMatchObject({ response_status: 403, outcome: 'retry' });
    const [first, second] = await r.waitFor(2, 15_000);
    // 30 s scaled by LOADNOTIFY_RETRY_SCALE=0.01: not before about 0.3 s.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(250);
    const d = await eventually(async () => {
      const got = await detail(hook.body.delivery.id);
      return got.state === 'delivered' ? got : undefined;
    });
    expect(d.attempts.map((a: any) => a.outcome)).toEqual(['retry', 'delivered']);
    expect(d.attempts[0].error).toContain('API rate limit exceeded');
  });

  it('asks for the token again when the API URL changes', async () => {
    const r = await receiver(github().answer);
    const c = await channel(r.url(''));
    const moved = await t.api('PATCH', `/api/v1/notification-channels/${c.id}`, {
      body: { url: r.url('/elsewhere') },
    });
    expect(moved.status).toBe(400);
    expect(moved.body.error.message).toContain('config.token');
    const refused = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'github',
        name: 'Web',
        url: 'https://github.com',
        config: { token: TOKEN, repositories: ['acme/*'] },
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/^url: https:\/\/github\.com is GitHub's website/);
  });
});
