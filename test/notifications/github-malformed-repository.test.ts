import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer, runCalls } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Security review (secreview): a run whose context.vcs.repository holds a malformed
 * percent-escape passes the API's check (a valid URL) but makes GitHub's skip throw a URIError
 * (decodeURIComponent) inside the status-change transaction: the run can never be moved on,
 * and no channel of the organization (Slack, PagerDuty, ...) hears of it.
 */
describe.each(DIALECTS)('a malformed repository address with a GitHub channel (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let r: Receiver;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' }));
    r = await startReceiver(() => ({ status: 201, headers: {}, body: '{}' }));
  });
  afterAll(async () => {
    await r.close();
    await t.close();
  });
  const { move } = runCalls(
    () => t,
    () => loadTestId,
  );

  it('still lets the run start and end (every other channel must hear of it)', async () => {
    const created = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'github',
        name: 'Commits',
        url: r.url('/api/v3'),
        config: { token: 'tok_abc', repositories: ['acme/*'] },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      body: {
        trigger: 'api',
        context: { vcs: { sha: 'a'.repeat(40), repository: 'https://github.com/acme/%E0%A4%A' } },
      },
    });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const started = await move(run.body.id, { status: 'running' });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const deliveries = await t.api('GET', `/api/v1/runs/${run.body.id}/deliveries`);
    expect(deliveries.body.items).toMatchObject([
      { state: 'skipped', last_error: expect.stringMatching(/is not a repository address/) },
    ]);
  });
});
