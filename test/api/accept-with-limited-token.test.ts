import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { addMember, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of issue #17: `POST /invitations/accept` is a public route, so the token-scope hook
 * skips it and the accepting principal may be any API token. A `read` token (or one limited to
 * another organization) joins its user to a new organization: a write, in an organization the
 * token does not reach. SECURITY.md: a token acts with "the lesser of its scope ... in one
 * organization"; scopes below `full` make "any write but runs" impossible.
 */
describe.each(DIALECTS)('accepting an invitation with a limited API token (%s)', (dialect) => {
  let t: TestServer;
  let victimUser: { userId: number; token: string };

  beforeAll(async () => {
    t = await startTestServer(dialect);
    victimUser = await addMember(t, 'ci-user@example.com', 'member');
  });
  afterAll(() => t.close());

  const mint = async (body: Record<string, unknown>) =>
    (await t.api('POST', '/api/v1/tokens', { token: victimUser.token, body: { name: 'x', ...body } })).body
      .token as string;
  const newOrg = async () =>
    (await t.api('POST', '/api/v1/organizations', { body: { name: 'Other' } })).body.id as number;
  const invite = async (orgId: number, role = 'admin') =>
    (
      await t.api('POST', `/api/v1/organizations/${orgId}/invitations`, {
        body: { email: 'ci-user@example.com', role },
      })
    ).body.token as string;

  it('a read-scoped token cannot accept (it may not write)', async () => {
    const otherOrg = await newOrg();
    const read = await mint({ scope: 'read' });
    const res = await t.api('POST', '/api/v1/invitations/accept', {
      token: read,
      body: { token: await invite(otherOrg) },
    });
    expect(res.status).toBe(403);
    const orgs = await t.api('GET', '/api/v1/organizations', { token: victimUser.token });
    expect(orgs.body.items.map((o: any) => o.id)).not.toContain(otherOrg);
  });

  it('a token limited to one organization cannot join another', async () => {
    const otherOrg = await newOrg();
    const scoped = await mint({ scope: 'full', organization_id: t.organizationId });
    const res = await t.api('POST', '/api/v1/invitations/accept', {
      token: scoped,
      body: { token: await invite(otherOrg, 'member') },
    });
    expect([403, 404]).toContain(res.status);
    const orgs = await t.api('GET', '/api/v1/organizations', { token: victimUser.token });
    expect(orgs.body.items.map((o: any) => o.id)).not.toContain(otherOrg);
  });
});
