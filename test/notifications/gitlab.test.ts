import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer, runCalls } from '../helpers/server.js';
import { eventually, startReceiver, type Answer, type Receiver, type Received } from '../helpers/receiver.js';

const PUBLIC_URL = 'https://loadnotify.example.com';
const TOKEN = 'glpat-AbCdEfGhIjKlMnOpQrSt';
const SHA = 'c3499c2729730a7f807efb8676a92dcb6f8a3f8f';
const CONTEXT = {
  vcs: { sha: SHA, branch: 'faster-cart', repository: 'https://gitlab.com/acme/web/shop', pull_request: 12 },
  ci: { provider: 'gitlab_ci', job_url: 'https://gitlab.com/acme/web/shop/-/jobs/77' },
};
const PROJECT = '/api/v4/projects/acme%2Fweb%2Fshop';

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/**
 * A local stand-in for a GitLab instance answering as its API documents: commit statuses
 * follow GitLab's transitions (a second `running` for the same name is a 400 "Cannot
 * transition"), merge-request notes are created (201, with their id) and edited with PUT (200)
 * while they exist. `override` answers a request first when it returns something.
 */
function gitlab(override: (n: number, req: Received) => Answer | undefined = () => undefined) {
  const notes = new Map<number, string>();
  const statuses = new Map<string, string>();
  let nextId = 501;
  const answer = (n: number, req: Received): Answer => {
    const special = override(n, req);
    if (special) return special;
    if (req.headers['private-token'] !== TOKEN) return json(401, { message: '401 Unauthorized' });
    if (req.method === 'POST' && req.url === `${PROJECT}/statuses/${SHA}`) {
      const { state, name } = JSON.parse(req.body);
      if (state === 'running' && statuses.get(name) === 'running')
        return json(400, {
          message:
            'Cannot transition status via :run from :running (Reason(s): Status cannot transition via "run")',
        });
      statuses.set(name, state);
      return json(201, { id: n, status: state, name });
    }
    if (req.method === 'POST' && req.url === `${PROJECT}/merge_requests/12/notes`) {
      const id = nextId++;
      notes.set(id, JSON.parse(req.body).body);
      return json(201, { id, body: JSON.parse(req.body).body, noteable_iid: 12 });
    }
    const edited = new RegExp(`^${PROJECT}/merge_requests/12/notes/(\\d+)$`).exec(req.url);
    if (req.method === 'PUT' && edited) {
      const id = Number(edited[1]);
      if (!notes.has(id)) return json(404, { message: '404 Not found' });
      notes.set(id, JSON.parse(req.body).body);
      return json(200, { id });
    }
    if (req.method === 'POST' && req.url === '/api/v4/markdown') return json(201, { html: '<p>ok</p>' });
    return json(404, { message: '404 Not Found' });
  };
  return { answer, notes };
}

describe.each(DIALECTS)('GitLab channels end to end (%s)', (dialect) => {
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
        type: 'gitlab',
        name: 'Shop MRs',
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
  const run = async (context: unknown, end: Record<string, unknown> = { result: 'failed' }) => {
    const created = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      body: { trigger: 'api', ...(context ? { context } : {}) },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await move(created.body.id, { status: 'running' })).status).toBe(200);
    expect((await move(created.body.id, { status: 'finished', ...end })).status).toBe(200);
    return created.body.id as number;
  };
  const deliveries = (channelId: number, count: number) =>
    eventually(async () => {
      const l = await t.api('GET', `/api/v1/notification-channels/${channelId}/deliveries`);
      return l.body.items.length === count && l.body.items.every((d: any) => d.state !== 'pending')
        ? (l.body.items as any[])
        : undefined;
    }, 15_000);
  const detail = async (id: number) => (await t.api('GET', `/api/v1/deliveries/${id}`)).body;

  it('sets the status running, then failed with the run link, and edits one merge-request note', async () => {
    const gl = gitlab();
    const r = await receiver(gl.answer);
    const c = await channel(r.url(''), { merge_request_notes: true });
    expect(c.secrets_set).toEqual(['token']);

    const first = await run(CONTEXT, { result: 'failed', summary: { p95_ms: 400 } });
    await r.waitFor(3);
    await deliveries(c.id, 2);
    const second = await run(CONTEXT, { result: 'passed', summary: { p95_ms: 300 } });
    await r.waitFor(6);
    const items = await deliveries(c.id, 4);
    expect(items.map((d) => d.state)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);

    expect(r.requests.map((q) => `${q.method} ${q.url}`)).toEqual([
      `POST ${PROJECT}/statuses/${SHA}`,
      `POST ${PROJECT}/statuses/${SHA}`,
      `POST ${PROJECT}/merge_requests/12/notes`,
      `POST ${PROJECT}/statuses/${SHA}`,
      `POST ${PROJECT}/statuses/${SHA}`,
      `PUT ${PROJECT}/merge_requests/12/notes/501`,
    ]);
    expect(JSON.parse(r.requests[0]!.body)).toEqual({
      state: 'running',
      name: 'loadnotify/Checkout',
      target_url: `${PUBLIC_URL}/runs/${first}`,
      description: `Run #${first} started`,
    });
    expect(JSON.parse(r.requests[1]!.body)).toMatchObject({
      state: 'failed',
      target_url: `${PUBLIC_URL}/runs/${first}`,
    });
    expect(JSON.parse(r.requests[4]!.body)).toMatchObject({ state: 'success' });
    expect(r.requests.every((q) => q.headers['private-token'] === TOKEN)).toBe(true);
    expect([...gl.notes.keys()]).toEqual([501]);
    const note = gl.notes.get(501)!;
    expect(note).toContain(`run \\#${second} recovered \\(passed\\)`);
    expect(note).toContain(`[\\!12](https://gitlab.com/acme/web/shop/-/merge_requests/12)`);
    expect(note).toContain(`(https://gitlab.com/acme/web/shop/-/commit/${SHA})`);

    const shown = JSON.stringify([c, items, await Promise.all(items.map((d) => detail(d.id)))]);
    expect(shown).not.toContain(TOKEN);
  });

  it('takes a status already running as sent (a resend after it got through)', async () => {
    const gl = gitlab();
    const r = await receiver(gl.answer);
    const c = await channel(r.url(''));
    const created = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      body: { trigger: 'api', context: CONTEXT },
    });
    await move(created.body.id, { status: 'running' });
    const [started] = await deliveries(c.id, 1);
    const again = await t.api('POST', `/api/v1/deliveries/${started.id}/redeliver`);
    expect(again.status, JSON.stringify(again.body)).toBeLessThan(300);
    await r.waitFor(2);
    const [, copy] = (await deliveries(c.id, 2)).sort((a, b) => a.id - b.id);
    const d = await detail(copy.id);
    expect(d.state).toBe('delivered');
    expect(d.attempts[0].response_status).toBe(400);
  });

  it('skips a run of a GitHub repository, stops at 401, and waits out a 429', async () => {
    const r = await receiver(
      gitlab((n) => (n === 1 ? json(429, { message: 'Retry later' }, { 'retry-after': '30' }) : undefined))
        .answer,
    );
    const c = await channel(r.url(''));
    await run({ vcs: { sha: SHA, repository: 'https://github.com/acme/shop' } });
    const skipped = await deliveries(c.id, 2);
    expect(skipped.map((d) => d.last_error)).toEqual([
      expect.stringContaining('is on GitHub, not GitLab'),
      expect.stringContaining('is on GitHub, not GitLab'),
    ]);
    expect(r.requests).toHaveLength(0);

    const hook = await testHook(c.id);
    expect(hook.body.attempt).toMatchObject({ response_status: 429, outcome: 'retry' });
    const [a, b] = await r.waitFor(2);
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(250);
    expect(b!.url).toBe('/api/v4/markdown');
    await eventually(async () =>
      (await detail(hook.body.delivery.id)).state === 'delivered' ? true : undefined,
    );

    const bad = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'gitlab',
        name: 'Old',
        url: r.url(''),
        config: { token: 'glpat-revoked', repositories: ['acme/*'] },
      },
    });
    const failed = await testHook(bad.body.id);
    expect(failed.body).toMatchObject({
      outcome: 'failed',
      attempt: { response_status: 401, outcome: 'permanent' },
    });
    expect(failed.body.reason).toContain(
      'HTTP 401: 401 Unauthorized (the token is wrong, expired or revoked',
    );
  });
});
