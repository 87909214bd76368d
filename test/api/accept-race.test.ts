import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of issue #17: racing acceptances as a new user. Exactly one wins; the others must get
 * a clear 4xx (invitation used / account exists), never a 500 from the unique e-mail index.
 */
describe.each(DIALECTS)('racing acceptances of invitation links (%s)', (dialect) => {
  let t: TestServer;
  let seq = 0;
  beforeAll(async () => {
    t = await startTestServer(dialect);
  });
  afterAll(() => t.close());

  const invite = async (orgId: number, email: string) =>
    (await t.api('POST', `/api/v1/organizations/${orgId}/invitations`, { body: { email, role: 'member' } }))
      .body.token as string;
  const accept = (token: string) =>
    t.api('POST', '/api/v1/invitations/accept', { token: null, body: { token, password: 'password123' } });

  it('the same link accepted ten times at once: one 200, the rest 4xx', async () => {
    const link = await invite(t.organizationId, `race-${++seq}@example.com`);
    const results = await Promise.all(Array.from({ length: 10 }, () => accept(link)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });

  it("two organizations' links for one new e-mail accepted at once: one account, no 500", async () => {
    const other = (await t.api('POST', '/api/v1/organizations', { body: { name: `O${seq}` } })).body.id;
    const email = `race-${++seq}@example.com`;
    const links = [await invite(t.organizationId, email), await invite(other, email)];
    const results = await Promise.all([...links, ...links].map(accept));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});
