/**
 * Links the server hands out (an invitation's accept_url, a run's url) when PUBLIC_URL is unset:
 * they name the address it listens on, and with PORT=0 the port the system picked, not 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver } from '../helpers/receiver.js';

describe('links without PUBLIC_URL, on PORT=0', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } }); // PORT=0, no PUBLIC_URL
  });
  afterAll(() => t.close());

  it('name the listening port in an invitation and a run', async () => {
    expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    const invited = await t.api('POST', `/api/v1/organizations/${t.organizationId}/invitations`, {
      body: { email: 'new@example.com', role: 'member' },
    });
    expect(invited.status).toBe(201);
    expect(invited.body.accept_url).toBe(`${t.url}/invitations/accept#token=${invited.body.token}`);

    const { loadTestId } = await seedLoadTest(t);
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    expect(run.body.url).toBe(`${t.url}/runs/${run.body.id}`);
    expect((await t.api('GET', `/api/v1/runs/${run.body.id}`)).body.url).toBe(run.body.url);
  });

  it('name the listening port in the notifications sent', async () => {
    const r = await startReceiver();
    try {
      const c = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'extended', url: r.url(), config: { payload_version: 'extended' } },
      });
      expect(c.status, JSON.stringify(c.body)).toBe(201);
      const { loadTestId } = await seedLoadTest(t, { project: 'Links', loadTest: 'Links' });
      const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
      await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
      const [got] = await r.waitFor(1, 10_000);
      expect(JSON.parse(got!.body).url).toBe(`${t.url}/runs/${run.body.id}`);
    } finally {
      await r.close();
    }
  });

  it('keep PUBLIC_URL when it is set', async () => {
    const other = await startTestServer('sqlite', { env: { PUBLIC_URL: 'https://notify.example.com/' } });
    try {
      const { loadTestId } = await seedLoadTest(other);
      const run = await other.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
      expect(run.body.url).toBe(`https://notify.example.com/runs/${run.body.id}`);
    } finally {
      await other.close();
    }
  });
});
