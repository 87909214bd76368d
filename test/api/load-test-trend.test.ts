import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { addMember, runCalls, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Issue 21, the trend: GET /load-tests/:id/trend answers the figures of the load test's last
 * ended runs, oldest first, and its pinned baseline, for the web app's chart. Read like the
 * load test's runs: every member, any token scope; another organization's load test is a 404.
 */
describe.each(DIALECTS)('load test trend (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  beforeAll(async () => {
    t = await startTestServer(dialect);
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' }));
  });
  afterAll(async () => {
    await t?.close();
  });
  const { move } = runCalls(
    () => t,
    () => loadTestId,
  );
  const figures = (p95: number, failureRate = 0.01, rate = 40) => ({
    requests: 1000,
    failure_rate: failureRate,
    p95_ms: p95,
    request_rate: rate,
    checks: 0.99,
  });
  /** A run of the load test that ends as `end` says; answers its id. */
  const ended = async (end: Record<string, unknown>, id = loadTestId) => {
    const run = await t.api('POST', `/api/v1/load-tests/${id}/runs`, { body: {} });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const done = await move(run.body.id, end);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    return run.body.id as number;
  };
  const trend = (query = '', token?: string) =>
    t.api('GET', `/api/v1/load-tests/${loadTestId}/trend${query}`, { token });

  let a: number, c: number, d: number, e: number;
  it('answers the ended runs with figures, oldest first, with their result and status', async () => {
    const empty = await trend();
    expect(empty.status, JSON.stringify(empty.body)).toBe(200);
    expect(empty.body).toEqual({ load_test_id: loadTestId, baseline: null, runs: [] });

    a = await ended({ status: 'finished', result: 'passed', summary: figures(350) });
    // Finished without figures: not on the trend.
    await ended({ status: 'finished', result: 'passed' });
    c = await ended({ status: 'finished', result: 'failed', summary: figures(420, 0.05, 38) });
    // Aborted with the figures so far: on the trend, with no result.
    d = await ended({ status: 'aborted_by_user', summary: { p95_ms: 390 } });
    // Only a request count: the rate is the requests over the time it ran.
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    await move(run.body.id, { status: 'running' });
    await new Promise((r) => setTimeout(r, 50));
    await move(run.body.id, { status: 'finished', result: 'passed', summary: { requests: 10 } });
    e = run.body.id;
    // Not ended yet: not on the trend.
    const running = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    await move(running.body.id, { status: 'running', summary: figures(999) });

    const res = await trend();
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.baseline).toBeNull();
    expect(res.body.runs.map((r: { run_id: number }) => r.run_id)).toEqual([a, c, d, e]);
    const [ra, rc, rd, re] = res.body.runs;
    expect(ra).toEqual({
      run_id: a,
      status: 'finished',
      result: 'passed',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      ended_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      figures: { p95_ms: 350, failure_rate: 0.01, request_rate: 40, checks: 0.99 },
    });
    expect(rc).toMatchObject({ result: 'failed', figures: { p95_ms: 420, failure_rate: 0.05 } });
    expect(rd).toMatchObject({ status: 'aborted_by_user', result: null, figures: { p95_ms: 390 } });
    expect(Object.keys(rd.figures)).toEqual(['p95_ms']);
    expect(re.figures.request_rate).toBeGreaterThan(0);
    expect(re.figures.request_rate).toBeLessThanOrEqual(10 / 0.05);
  });

  it('shows the pinned baseline, even when it is older than the window, and ends the window where asked', async () => {
    expect(
      (await t.api('PUT', `/api/v1/load-tests/${loadTestId}/baseline`, { body: { run_id: a } })).status,
    ).toBe(200);
    const last2 = await trend('?limit=2');
    expect(last2.body.runs.map((r: { run_id: number }) => r.run_id)).toEqual([d, e]);
    expect(last2.body.baseline).toEqual({
      run_id: a,
      figures: { p95_ms: 350, failure_rate: 0.01, request_rate: 40, checks: 0.99 },
    });
    const untilC = await trend(`?limit=2&until_run_id=${c}`);
    expect(untilC.body.runs.map((r: { run_id: number }) => r.run_id)).toEqual([a, c]);
    const untilA = await trend(`?until_run_id=${a}`);
    expect(untilA.body.runs.map((r: { run_id: number }) => r.run_id)).toEqual([a]);
    await t.api('DELETE', `/api/v1/load-tests/${loadTestId}/baseline`);
    expect((await trend()).body.baseline).toBeNull();
  });

  it('refuses a bad limit or window with a 400 naming the parameter', async () => {
    for (const [query, field, words] of [
      ['?limit=1', 'limit', /^limit must be at least 2$/],
      ['?limit=101', 'limit', /^limit must be at most 100$/],
      ['?limit=ten', 'limit', /^limit must be a whole number$/],
      ['?until_run_id=0', 'until_run_id', /^until_run_id must be at least 1$/],
      ['?until_run_id=abc', 'until_run_id', /^until_run_id must be a whole number$/],
      ['?cursor=5', 'cursor', /^cursor is not a known field$/],
    ] as const) {
      const res = await trend(query);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe('validation_failed');
      expect(res.body.error.details[0].field, query).toBe(field);
      expect(res.body.error.message, query).toMatch(words);
    }
  });

  it('answers every role and token scope of the organization, and 404 to another organization', async () => {
    const whole = (await trend()).body;
    expect(whole.runs).toHaveLength(4);
    for (const role of ['admin', 'member'] as const) {
      const { token } = await addMember(t, `${role}-trend@example.com`, role);
      const res = await trend('', token);
      expect(res.status, role).toBe(200);
      expect(res.body, role).toEqual(whole);
    }
    for (const scope of ['read', 'runs'] as const) {
      const made = await t.api('POST', '/api/v1/tokens', { body: { name: scope, scope } });
      const res = await trend('', made.body.token);
      expect(res.status, scope).toBe(200);
      expect(res.body, scope).toEqual(whole);
    }

    const org = await t.api('POST', '/api/v1/organizations', { body: { name: 'Other' } });
    const project = await t.api('POST', `/api/v1/organizations/${org.body.id}/projects`, {
      body: { name: 'P' },
    });
    const theirs = await t.api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
      body: { name: 'T' },
    });
    const theirRun = await ended(
      { status: 'finished', result: 'passed', summary: figures(100) },
      theirs.body.id,
    );
    const outsider = await addMember(t, 'outsider-trend@example.com', 'owner', org.body.id);
    const refused = await trend('', outsider.token);
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('not_found');
    // A token of ours limited to the other organization does not reach this one either.
    const limited = await t.api('POST', '/api/v1/tokens', {
      body: { name: 'other only', scope: 'read', organization_id: org.body.id },
    });
    expect((await trend('', limited.body.token)).status).toBe(404);
    expect((await t.api('GET', '/api/v1/load-tests/999999/trend')).status).toBe(404);
    // Their run bounds our window as any id would, and shows nothing of theirs.
    expect((await trend(`?until_run_id=${theirRun}`)).body).toEqual(whole);
    const mine = await t.api('GET', `/api/v1/load-tests/${theirs.body.id}/trend`, {
      token: outsider.token,
    });
    expect(mine.body.runs.map((r: { run_id: number }) => r.run_id)).toEqual([theirRun]);
  });

  it('looks past runs without figures, more than one read of them', async () => {
    const { loadTestId: other } = await seedLoadTest(t, { project: 'Bulk', loadTest: 'Many' });
    const old = await ended({ status: 'finished', result: 'passed', summary: figures(300) }, other);
    for (let i = 0; i < 230; i++)
      await ended({ status: 'finished', result: 'passed', summary: { thresholds_passed: true } }, other);
    const latest = await ended({ status: 'finished', result: 'failed', summary: figures(310) }, other);
    const res = await t.api('GET', `/api/v1/load-tests/${other}/trend?limit=5`);
    expect(res.body.runs.map((r: { run_id: number }) => r.run_id)).toEqual([old, latest]);
  }, 60_000);
});
