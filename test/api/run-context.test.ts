/**
 * POST /load-tests/:id/runs with `context`: kept and shown on GET (both dialects), and every
 * bad part refused with a 400 that names the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(DIALECTS)('run context through the API (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  beforeAll(async () => {
    t = await startTestServer(dialect);
    ({ loadTestId } = await seedLoadTest(t));
  });
  afterAll(() => t?.close());

  const create = (context: unknown) =>
    t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: { trigger: 'api', context } });

  it('keeps the context and returns it on GET run and in the list', async () => {
    const context = {
      vcs: { sha: 'abc1234', branch: 'main', repository: 'https://git.example.com/a/b', pull_request: 3 },
      ci: { provider: 'my-ci', job_url: 'http://ci.example.com/job/1' },
      labels: { env: 'staging', 'a.b_c-d': '' },
    };
    const res = await create(context);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.context).toEqual(context);
    expect((await t.api('GET', `/api/v1/runs/${res.body.id}`)).body.context).toEqual(context);
    const list = await t.api('GET', `/api/v1/load-tests/${loadTestId}/runs`);
    expect(list.body.items[0].context).toEqual(context);
    const none = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    expect(none.body.context).toBeNull();
    expect((await create({})).body.context).toBeNull();
  });

  it.each([
    [{ ci: { job_url: 'javascript:alert(1)' } }, 'context.ci.job_url', /http:\/\/ or https:\/\//],
    [{ vcs: { repository: 'file:///etc/passwd' } }, 'context.vcs.repository', /http:\/\/ or https:\/\//],
    [{ ci: { job_url: 'not a url' } }, 'context.ci.job_url', /http:\/\/ or https:\/\//],
    [{ vcs: { sha: 'main; rm -rf' } }, 'context.vcs.sha', /commit hash/],
    [{ vcs: { branch: 'b'.repeat(256) } }, 'context.vcs.branch', /256 characters long; .* at most 255/],
    [{ vcs: { branch: '' } }, 'context.vcs.branch', /can't be empty/],
    [{ vcs: { pull_request: 0 } }, 'context.vcs.pull_request', /at least 1/],
    [{ vcs: { pull_request: '12' } }, 'context.vcs.pull_request', /whole number/],
    [{ ci: { job_url: `https://x.example/${'a'.repeat(2000)}` } }, 'context.ci.job_url', /at most 2000/],
    [{ ci: { provider: 'a b' } }, 'context.ci.provider', /letters, digits/],
    [
      { labels: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])) },
      'context.labels',
      /at most 20 keys/,
    ],
    [{ labels: { 'bad key': 'v' } }, 'context.labels', /label key "bad key"/],
    [{ labels: { env: 'v'.repeat(201) } }, 'context.labels.env', /at most 200/],
    [{ labels: { env: 1 } }, 'context.labels.env', /must be text/],
    [{ vcs: { tag: 'v1' } }, 'context.vcs.tag', /not a known field/],
  ])('refuses %j naming %s', async (context, field, message) => {
    const res = await create(context);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toMatch(message);
    expect(res.body.error.details[0].field).toBe(field);
  });
});
