import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { addMember, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of issue #17: admins may not grant ownership (API.md: "yes, but not to or from
 * owner"), yet an admin can undo an owner's invitation to the owner role: by revoking it, or
 * silently, by inviting the same e-mail again as admin (createInvitation revokes the pending
 * one, so the owner's link stops working and the invitee joins as admin instead).
 */
describe.each(DIALECTS)("an admin and an owner's invitation to ownership (%s)", (dialect) => {
  let t: TestServer;
  let admin: string;
  const invitations = () => `/api/v1/organizations/${t.organizationId}/invitations`;
  beforeAll(async () => {
    t = await startTestServer(dialect);
    admin = (await addMember(t, 'admin@example.com', 'admin')).token;
  });
  afterAll(() => t.close());

  it('an admin cannot revoke an invitation to the owner role', async () => {
    const byOwner = await t.api('POST', invitations(), {
      body: { email: 'cofounder@example.com', role: 'owner' },
    });
    const res = await t.api('DELETE', `/api/v1/invitations/${byOwner.body.id}`, { token: admin });
    expect(res.status).toBe(403);
  });

  it("an admin's invitation for the same e-mail does not void the owner's one", async () => {
    const byOwner = await t.api('POST', invitations(), { body: { email: 'cto@example.com', role: 'owner' } });
    const byAdmin = await t.api('POST', invitations(), {
      token: admin,
      body: { email: 'cto@example.com', role: 'admin' },
    });
    expect([201, 403, 409]).toContain(byAdmin.status);
    const preview = await t.api('POST', '/api/v1/invitations/preview', {
      token: null,
      body: { token: byOwner.body.token },
    });
    expect(preview.status).toBe(200);
  });
});
