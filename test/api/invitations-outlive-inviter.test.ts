import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { addMember, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of issue #17: an admin about to be removed (or demoted) invites an address of their
 * own as admin and keeps the link. Removing or demoting them leaves the invitation pending, so
 * they walk back in as admin for up to 7 days. Secure: what an inviter may no longer grant,
 * their pending invitations no longer grant.
 */
describe.each(DIALECTS)('pending invitations of a removed or demoted admin (%s)', (dialect) => {
  let t: TestServer;
  let seq = 0;
  beforeAll(async () => {
    t = await startTestServer(dialect);
  });
  afterAll(() => t.close());

  const backdoor = async (change: 'remove' | 'demote') => {
    const { userId, token } = await addMember(t, `rogue-${++seq}@example.com`, 'admin');
    const invited = await t.api('POST', `/api/v1/organizations/${t.organizationId}/invitations`, {
      token,
      body: { email: `rogue-alt-${seq}@example.com`, role: 'admin' },
    });
    expect(invited.status).toBe(201);
    const member = `/api/v1/organizations/${t.organizationId}/members/${userId}`;
    const res =
      change === 'remove'
        ? await t.api('DELETE', member)
        : await t.api('PATCH', member, { body: { role: 'member' } });
    expect(res.status).toBeLessThan(300);
    return t.api('POST', '/api/v1/invitations/accept', {
      token: null,
      body: { token: invited.body.token, password: 'password123' },
    });
  };

  it("a removed admin's pending invitation no longer lets anyone in", async () => {
    expect((await backdoor('remove')).status).toBe(404);
  });

  it("a demoted admin's pending invitation to admin no longer works", async () => {
    expect((await backdoor('demote')).status).toBe(404);
  });
});
