import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { joinByInvitation, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Scoped API tokens (API.md, Roles; issue #17, item 10): a token belongs to one organization or
 * all of its user's, carries read / runs / full, may expire, and acts with the lesser of its
 * scope and its user's role. Before, every token reached every organization, never expired and
 * could mint more tokens.
 */
describe.each(DIALECTS)('API tokens (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let otherOrg: number;
  let otherLoadTest: number;
  const tokens = (body: unknown, token?: string) => t.api('POST', '/api/v1/tokens', { body, token });
  const as = (token: string) => (method: string, path: string, body?: unknown) =>
    t.api(method, path, { token, body });
  const channels = (orgId: number) => `/api/v1/organizations/${orgId}/notification-channels`;
  const hook = { type: 'webhook', name: 'hook', url: 'https://hooks.example.com/x' };

  beforeAll(async () => {
    t = await startTestServer(dialect);
    ({ loadTestId } = await seedLoadTest(t));
    otherOrg = (await t.api('POST', '/api/v1/organizations', { body: { name: 'Second' } })).body.id;
    const project = await t.api('POST', `/api/v1/organizations/${otherOrg}/projects`, {
      body: { name: 'P' },
    });
    otherLoadTest = (
      await t.api('POST', `/api/v1/projects/${project.body.id}/load-tests`, { body: { name: 'L' } })
    ).body.id;
  });
  afterAll(() => t.close());

  it('creates tokens with a scope, an organization and an expiry, shown once and listed without the secret', async () => {
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const made = await tokens({
      name: 'ci',
      scope: 'runs',
      organization_id: t.organizationId,
      expires_at: expires,
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      name: 'ci',
      scope: 'runs',
      organization_id: t.organizationId,
      expires_at: expires,
      last_used_at: null,
    });
    expect(made.body.token).toMatch(/^lnt_/);
    const defaults = await tokens({ name: 'plain' });
    expect(defaults.body).toMatchObject({ scope: 'full', organization_id: null, expires_at: null });

    await as(made.body.token)('GET', `/api/v1/load-tests/${loadTestId}`);
    const listed = (await t.api('GET', '/api/v1/tokens?limit=500')).body.items;
    const row = listed.find((x: any) => x.id === made.body.id);
    expect(row).toMatchObject({ scope: 'runs', organization_id: t.organizationId, expires_at: expires });
    expect(row.last_used_at).not.toBeNull();
    expect(listed.every((x: any) => x.token === undefined)).toBe(true);
  });

  it('refuses bad input with a message naming the field', async () => {
    for (const [body, field] of [
      [{ name: 'x', scope: 'admin' }, 'scope'],
      [{ name: 'x', expires_at: 'tomorrow' }, 'expires_at'],
      [{ name: 'x', expires_at: new Date(Date.now() - 1000).toISOString() }, 'expires_at'],
      [{ name: 'x', organization_id: 'one' }, 'organization_id'],
    ] as const) {
      const res = await tokens(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toContain(field);
    }
    // An organization the user is not in is not found, as everywhere.
    expect((await tokens({ name: 'x', organization_id: 999_999 })).status).toBe(404);
  });

  it('read: reads, and writes nothing', async () => {
    const read = as((await tokens({ name: 'r', scope: 'read' })).body.token);
    expect((await read('GET', `/api/v1/load-tests/${loadTestId}/runs`)).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', `/api/v1/load-tests/${loadTestId}/runs`, {}],
      ['PATCH', `/api/v1/load-tests/${loadTestId}`, { name: 'renamed' }],
      ['POST', channels(t.organizationId), hook],
      ['POST', '/api/v1/tokens', { name: 'more' }],
    ] as const) {
      const res = await read(method, path, body);
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe('token_scope');
      expect(res.body.error.message).toContain('"read"');
    }
    expect((await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.name).toBe('Load test');
  });

  it('runs: creates runs and reports their status, as CI and loadnotify run need; nothing else', async () => {
    const runs = as((await tokens({ name: 'ci', scope: 'runs' })).body.token);
    const run = await runs('POST', `/api/v1/load-tests/${loadTestId}/runs`, { trigger: 'api' });
    expect(run.status).toBe(201);
    expect((await runs('POST', `/api/v1/runs/${run.body.id}/status`, { status: 'running' })).status).toBe(
      200,
    );
    for (const [method, path, body] of [
      ['POST', channels(t.organizationId), hook],
      ['POST', '/api/v1/tokens', { name: 'more' }],
      ['DELETE', `/api/v1/load-tests/${loadTestId}`, undefined],
      [
        'POST',
        `/api/v1/organizations/${t.organizationId}/invitations`,
        { email: 'x@example.com', role: 'owner' },
      ],
    ] as const) {
      const res = await runs(method, path, body);
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe('token_scope');
    }
  });

  it("one organization: another organization's resources are not found, though the user is in both", async () => {
    const only = as((await tokens({ name: 'acme only', organization_id: t.organizationId })).body.token);
    expect((await only('GET', `/api/v1/load-tests/${loadTestId}`)).status).toBe(200);
    for (const path of [
      `/api/v1/organizations/${otherOrg}`,
      `/api/v1/organizations/${otherOrg}/projects`,
      `/api/v1/load-tests/${otherLoadTest}`,
      channels(otherOrg),
    ]) {
      expect((await only('GET', path)).status, path).toBe(404);
    }
    expect((await only('POST', `/api/v1/load-tests/${otherLoadTest}/runs`, {})).status).toBe(404);
    expect((await only('POST', channels(otherOrg), hook)).status).toBe(404);
    const orgs = (await only('GET', '/api/v1/organizations')).body.items.map((o: any) => o.id);
    expect(orgs).toEqual([t.organizationId]);
    const me = (await only('GET', '/api/v1/me')).body;
    expect(me.memberships.map((m: any) => m.organization_id)).toEqual([t.organizationId]);
    expect((await only('POST', '/api/v1/organizations', { name: 'Third' })).status).toBe(403);
  });

  it('never mints a broader token than itself', async () => {
    const soon = Date.now() + 3_600_000;
    const scoped = (
      await tokens({
        name: 'scoped',
        organization_id: t.organizationId,
        expires_at: new Date(soon).toISOString(),
      })
    ).body.token;
    const everywhere = await tokens({ name: 'all', organization_id: null }, scoped);
    expect(everywhere.status).toBe(400);
    expect(everywhere.body.error.message).toContain('organization_id');
    expect((await tokens({ name: 'other', organization_id: otherOrg }, scoped)).status).toBe(400);
    const forever = await tokens({ name: 'forever' }, scoped);
    expect(forever.status).toBe(400);
    expect(forever.body.error.message).toContain('expires_at');
    const ok = await tokens({ name: 'child', expires_at: new Date(soon - 1000).toISOString() }, scoped);
    expect(ok.status).toBe(201);
    expect(ok.body.organization_id).toBe(t.organizationId);
    // It sees only the tokens of its organization, and revokes only those.
    const seen = (await t.api('GET', '/api/v1/tokens?limit=500', { token: scoped })).body.items;
    expect(seen.every((x: any) => x.organization_id === t.organizationId)).toBe(true);
    const unscoped = (await tokens({ name: 'unscoped' })).body.id;
    expect((await t.api('DELETE', `/api/v1/tokens/${unscoped}`, { token: scoped })).status).toBe(404);
  });

  it('an expired token is refused with 401', async () => {
    const made = await tokens({ name: 'brief', expires_at: new Date(Date.now() + 60_000).toISOString() });
    expect((await t.api('GET', '/api/v1/me', { token: made.body.token })).status).toBe(200);
    await t.server.ctx.db.kysely
      .updateTable('api_tokens')
      .set({ expires_at: Date.now() - 1 })
      .where('id', '=', made.body.id)
      .execute();
    const res = await t.api('GET', '/api/v1/me', { token: made.body.token });
    expect(res.status).toBe(401);
    expect(res.body.error.message).toContain('expired');
  });

  it("acts with the lesser of its scope and the user's role: a member's full token manages no channels", async () => {
    const joined = await joinByInvitation(t, 'plain-member@example.com', 'member');
    const full = await t.api('POST', '/api/v1/tokens', {
      token: null,
      body: { name: 'full' },
      headers: { cookie: joined.cookies, 'x-csrf-token': joined.csrf },
    });
    expect(full.body.scope).toBe('full');
    const res = await t.api('POST', channels(t.organizationId), { token: full.body.token, body: hook });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });
});
