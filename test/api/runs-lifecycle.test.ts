import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(DIALECTS)('run lifecycle over HTTP (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let projectId: number;
  beforeAll(async () => {
    t = await startTestServer(dialect);
    ({ loadTestId, projectId } = await seedLoadTest(t));
  });
  afterAll(() => t.close());

  const newRun = async (trigger?: string) => {
    const res = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      body: trigger ? { trigger } : {},
    });
    expect(res.status).toBe(201);
    return res.body;
  };
  const move = (runId: number, body: unknown) => t.api('POST', `/api/v1/runs/${runId}/status`, { body });
  const events = async (runId: number) => {
    const rows = await t.server.ctx.db.kysely
      .selectFrom('events')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ type: r.type, data: JSON.parse(r.data) }));
  };

  it('creates a run in status created, shown with the k6 code and the caller as user', async () => {
    const run = await newRun();
    const me = await t.api('GET', '/api/v1/me');
    expect(run).toMatchObject({
      load_test_id: loadTestId,
      project_id: projectId,
      organization_id: t.organizationId,
      user_id: me.body.user.id,
      name: 'Load test',
      trigger: 'manual',
      status: 'created',
      result: null,
      status_code: -2,
      status_text: 'Created',
      started_at: null,
      ended_at: null,
    });
    expect(Object.keys(run)).toEqual(expect.arrayContaining(['id', 'created_at']));
    expect((await t.api('GET', `/api/v1/runs/${run.id}`)).body).toEqual(run);
  });

  it('moves through the lifecycle and records test.started and test.finished in the same step', async () => {
    const run = await newRun('scheduled');
    for (const status of ['validated', 'queued', 'initializing']) {
      const res = await move(run.id, { status });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe(status);
    }
    expect(await events(run.id)).toEqual([]);
    const running = await move(run.id, { status: 'running' });
    expect(running.body).toMatchObject({ status: 'running', status_code: 2, status_text: 'Running' });
    expect(running.body.started_at).not.toBeNull();
    const finished = await move(run.id, { status: 'finished', result: 'passed' });
    expect(finished.body).toMatchObject({
      status: 'finished',
      result: 'passed',
      status_code: 3,
      status_text: 'Finished',
    });
    expect(finished.body.ended_at).not.toBeNull();

    const recorded = await events(run.id);
    expect(recorded.map((e) => e.type)).toEqual(['test.started', 'test.finished']);
    expect(recorded[0]!.data.run).toMatchObject({
      run_id: run.id,
      load_test_id: loadTestId,
      load_test_name: 'Load test',
      project_id: projectId,
      project_name: 'Web',
      organization_id: t.organizationId,
      user_id: run.user_id,
      trigger: 'scheduled',
      status: 'running',
      result: null,
    });
    expect(recorded[1]!.data.run).toMatchObject({ status: 'finished', result: 'passed' });
    expect(recorded[1]!.data.run.ended_at).toBe(finished.body.ended_at);
  });

  it('answers 409 invalid_transition for a move backwards or out of a terminal status, writing nothing', async () => {
    const run = await newRun();
    await move(run.id, { status: 'running' });
    const back = await move(run.id, { status: 'queued' });
    expect(back.status).toBe(409);
    expect(back.body.error.code).toBe('invalid_transition');
    await move(run.id, { status: 'aborted_by_user' });
    const out = await move(run.id, { status: 'running' });
    expect(out.status).toBe(409);
    expect(out.body.error).toMatchObject({ code: 'invalid_transition' });
    expect(out.body.error.message).toMatch(/aborted_by_user/);
    expect((await t.api('GET', `/api/v1/runs/${run.id}`)).body.status).toBe('aborted_by_user');
    expect((await events(run.id)).map((e) => e.type)).toEqual(['test.started', 'test.finished']);
  });

  it('treats a repeated status as a no-op with no second event', async () => {
    const run = await newRun();
    expect((await move(run.id, { status: 'running' })).status).toBe(200);
    const again = await move(run.id, { status: 'running' });
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('running');
    await move(run.id, { status: 'finished' });
    expect((await move(run.id, { status: 'finished' })).status).toBe(200);
    expect((await events(run.id)).map((e) => e.type)).toEqual(['test.started', 'test.finished']);
  });

  it('skips steps: created straight to a terminal status emits only test.finished', async () => {
    const run = await newRun();
    const res = await move(run.id, { status: 'aborted_by_threshold' });
    expect(res.body).toMatchObject({ status: 'aborted_by_threshold', result: 'failed', status_code: 8 });
    expect((await events(run.id)).map((e) => e.type)).toEqual(['test.finished']);
  });

  it('refuses a result on a non-terminal status and passed with aborted_by_threshold', async () => {
    const run = await newRun();
    const early = await move(run.id, { status: 'running', result: 'passed' });
    expect(early.status).toBe(400);
    expect(early.body.error.details[0].field).toBe('result');
    const contradiction = await move(run.id, { status: 'aborted_by_threshold', result: 'passed' });
    expect(contradiction.status).toBe(400);
    expect((await t.api('GET', `/api/v1/runs/${run.id}`)).body.status).toBe('created');
  });

  it('refuses passed with a run that did not finish, and says which results fit', async () => {
    for (const status of ['aborted_by_user', 'timed_out', 'aborted_by_system', 'aborted_by_limit']) {
      const run = await newRun();
      const res = await move(run.id, { status, result: 'passed' });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_result' });
      expect(res.body.error.message).toBe(
        `a run that ended ${status} did not run to its end, so it cannot have passed: ` +
          'send result "failed" or no result, not "passed"',
      );
      expect(res.body.error.details[0].field).toBe('result');
      expect((await t.api('GET', `/api/v1/runs/${run.id}`)).body).toMatchObject({ status: 'created' });
      expect(await events(run.id)).toEqual([]);
      const failed = await move(run.id, { status, result: 'failed' });
      expect(failed.body).toMatchObject({ status, result: 'failed' });
    }
  });

  it('serialises racing terminal changes: exactly one test.finished', async () => {
    const run = await newRun();
    await move(run.id, { status: 'running' });
    const answers = await Promise.all(
      ['finished', 'aborted_by_user', 'aborted_by_system', 'timed_out'].map((status) =>
        move(run.id, { status }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(3);
    expect((await events(run.id)).filter((e) => e.type === 'test.finished')).toHaveLength(1);
  });

  it('lists runs newest first with cursor pagination', async () => {
    const first = await t.api('GET', `/api/v1/load-tests/${loadTestId}/runs?limit=2`);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.items[0].id).toBeGreaterThan(first.body.items[1].id);
    expect(first.body.next_cursor).toEqual(String(first.body.items[1].id));
    const second = await t.api(
      'GET',
      `/api/v1/load-tests/${loadTestId}/runs?limit=2&cursor=${first.body.next_cursor}`,
    );
    expect(second.body.items[0].id).toBeLessThan(first.body.items[1].id);
    const org = await t.api('GET', `/api/v1/organizations/${t.organizationId}/runs?limit=500`);
    expect(org.body.next_cursor).toBeNull();
    expect(org.body.items.length).toBeGreaterThanOrEqual(7);
  });
});
