import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { addMember, runCalls, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/** Issue 21: a finished run's figures next to the previous run's or a pinned baseline's. */
describe.each(DIALECTS)('run comparison and baseline (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let hook: Receiver;
  let slack: Receiver;
  let templated: Receiver;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' }));
    hook = await startReceiver(() => ({ status: 204 }));
    slack = await startReceiver(() => ({ status: 200, body: 'ok' }));
    templated = await startReceiver(() => ({ status: 204 }));
    const finishedOnly = { 'test.started': { enabled: false } };
    const channels = [
      { type: 'webhook', name: 'hook', url: hook.url(), config: { payload_version: 'extended' } },
      { type: 'slack', name: 'slack', url: slack.url() },
      {
        type: 'webhook',
        name: 'templated',
        url: templated.url(),
        config: {
          template:
            '{{ comparison.against }} #{{ comparison.run_id }}: p95 {{ comparison.figures.p95_ms.delta_percent }}%',
        },
      },
    ];
    for (const c of channels) {
      const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { ...c, events: finishedOnly },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  });
  afterAll(async () => {
    await Promise.all([hook?.close(), slack?.close(), templated?.close()]);
    await t?.close();
  });
  const { move } = runCalls(
    () => t,
    () => loadTestId,
  );
  const figures = (p95: number) => ({
    thresholds_passed: true,
    requests: 1000,
    failure_rate: 0.01,
    p95_ms: p95,
    request_rate: 40,
    checks: 0.99,
  });
  /** How many test.finished events each receiver has had. */
  let sent = 0;
  /** A run of `id` that finishes with `summary`; answers its id and the three channels' requests. */
  const finish = async (summary: Record<string, unknown> | undefined, id = loadTestId) => {
    const run = await t.api('POST', `/api/v1/load-tests/${id}/runs`, { body: { trigger: 'api' } });
    await move(run.body.id, { status: 'running' });
    const done = await move(run.body.id, {
      status: 'finished',
      result: 'passed',
      ...(summary ? { summary } : {}),
    });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    if (id !== loadTestId) return { id: run.body.id as number, run: done.body };
    sent++;
    const [h, s, x] = await Promise.all([hook.waitFor(sent), slack.waitFor(sent), templated.waitFor(sent)]);
    return {
      id: run.body.id as number,
      run: done.body,
      hook: JSON.parse(h.at(-1)!.body),
      slack: JSON.parse(s.at(-1)!.body),
      templated: x.at(-1)!.body,
    };
  };

  let first: number;
  it('compares a finished run with the previous finished run that has figures', async () => {
    const a = await finish(figures(350));
    first = a.id;
    expect(a.hook.comparison).toBeNull();
    expect(a.run.comparison).toBeNull();
    // Finished without figures: nothing to compare, and not what the next run is compared with.
    const b = await finish(undefined);
    expect(b.hook.comparison).toBeNull();
    const c = await finish({ ...figures(413), failure_rate: 0.02, checks: 0.9 });
    const expected = {
      against: 'previous',
      run_id: a.id,
      figures: {
        p95_ms: { value: 413, base: 350, delta: 63, delta_percent: 18 },
        failure_rate: { value: 0.02, base: 0.01, delta: 0.01, delta_percent: 100 },
        request_rate: { value: 40, base: 40, delta: 0, delta_percent: 0 },
        checks: { value: 0.9, base: 0.99, delta: -0.09, delta_percent: -9.1 },
      },
    };
    expect(c.hook.comparison).toEqual(expected);
    expect(c.run.comparison).toEqual(expected);
    expect((await t.api('GET', `/api/v1/runs/${c.id}`)).body.comparison).toEqual(expected);
    const text = JSON.stringify(c.slack);
    expect(text).toContain(`p95 413 ms, +18% vs run #${a.id}`);
    expect(text).toContain(`Failure rate 2.00%, +1 pts vs run #${a.id}`);
    expect(c.templated).toBe(`previous #${a.id}: p95 18%`);
  });

  it('compares with the pinned baseline until it is unpinned', async () => {
    const pinned = await t.api('PUT', `/api/v1/load-tests/${loadTestId}/baseline`, {
      body: { run_id: first },
    });
    expect(pinned.status, JSON.stringify(pinned.body)).toBe(200);
    expect(pinned.body.baseline_run_id).toBe(first);
    expect((await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.baseline_run_id).toBe(first);
    const d = await finish(figures(700));
    expect(d.hook.comparison).toMatchObject({
      against: 'baseline',
      run_id: first,
      figures: { p95_ms: { value: 700, base: 350, delta: 350, delta_percent: 100 } },
    });
    expect(JSON.stringify(d.slack)).toContain(`p95 700 ms, +100% vs baseline run #${first}`);
    expect(d.templated).toBe(`baseline #${first}: p95 100%`);

    const unpinned = await t.api('DELETE', `/api/v1/load-tests/${loadTestId}/baseline`);
    expect(unpinned.status).toBe(200);
    expect(unpinned.body.baseline_run_id).toBeNull();
    const e = await finish(figures(350));
    expect(e.hook.comparison).toMatchObject({
      against: 'previous',
      run_id: d.id,
      figures: { p95_ms: { delta: -350, delta_percent: -50 } },
    });
    expect(JSON.stringify(e.slack)).toContain(`p95 350 ms, -50% vs run #${d.id}`);
  });

  it('lets every member pin and unpin, and refuses what is not a finished run of this load test with figures', async () => {
    const path = `/api/v1/load-tests/${loadTestId}/baseline`;
    for (const role of ['admin', 'member'] as const) {
      const { token } = await addMember(t, `${role}-baseline@example.com`, role);
      const put = await t.api('PUT', path, { token, body: { run_id: first } });
      expect(put.status, role).toBe(200);
      expect((await t.api('DELETE', path, { token })).status, role).toBe(200);
    }
    const read = await t.api('POST', '/api/v1/tokens', { body: { name: 'read', scope: 'read' } });
    const refused = await t.api('PUT', path, { token: read.body.token, body: { run_id: first } });
    expect(refused.status).toBe(403);

    // Another organization: its load test is not found; its run is not a run of this load test.
    const org = await t.api('POST', '/api/v1/organizations', { body: { name: 'Other' } });
    const project = await t.api('POST', `/api/v1/organizations/${org.body.id}/projects`, {
      body: { name: 'P' },
    });
    const theirs = await t.api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
      body: { name: 'T' },
    });
    const theirRun = await finish(figures(100), theirs.body.id);
    const outsider = await addMember(t, 'outsider@example.com', 'owner', org.body.id);
    const notFound = await t.api('PUT', path, { token: outsider.token, body: { run_id: theirRun.id } });
    expect(notFound.status).toBe(404);
    expect((await t.api('DELETE', path, { token: outsider.token })).status).toBe(404);

    const same = { error: { code: 'validation_failed' } };
    const foreign = await t.api('PUT', path, { body: { run_id: theirRun.id } });
    expect(foreign.status).toBe(400);
    expect(foreign.body).toMatchObject(same);
    expect(foreign.body.error.details).toEqual([
      { field: 'run_id', message: `run ${theirRun.id} is not a run of this load test` },
    ]);
    const missing = await t.api('PUT', path, { body: { run_id: 999999 } });
    expect(missing.body.error.details[0].message).toBe('run 999999 is not a run of this load test');

    const running = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    await move(running.body.id, { status: 'running' });
    const unfinished = await t.api('PUT', path, { body: { run_id: running.body.id } });
    expect(unfinished.status).toBe(400);
    expect(unfinished.body.error.details[0].message).toBe(
      `run ${running.body.id} has not finished (it is running)`,
    );
    await move(running.body.id, { status: 'finished', result: 'passed' });
    sent++;
    await Promise.all([hook.waitFor(sent), slack.waitFor(sent), templated.waitFor(sent)]);
    const bare = await t.api('PUT', path, { body: { run_id: running.body.id } });
    expect(bare.status).toBe(400);
    expect(bare.body.error.details[0].message).toBe(`run ${running.body.id} has no figures to compare with`);
    const noBody = await t.api('PUT', path, { body: {} });
    expect(noBody.status).toBe(400);
    expect((await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.baseline_run_id).toBeNull();
  });
});
