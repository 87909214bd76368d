import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { walkPages } from '../helpers/pages.js';
import { addMember, joinByInvitation, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(DIALECTS)('organizations, members, projects and load tests (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect);
  });
  afterAll(() => t.close());

  const k = () => t.server.ctx.db.kysely;
  const pages = (path: string, limit: number, token?: string) => walkPages(t.api, path, limit, token);

  describe('organizations', () => {
    it('makes the creator the owner', async () => {
      const created = await t.api('POST', '/api/v1/organizations', { body: { name: 'Globex' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: expect.any(Number), name: 'Globex', role: 'owner' });
      const got = await t.api('GET', `/api/v1/organizations/${created.body.id}`);
      expect(got.body).toMatchObject({ id: created.body.id, name: 'Globex', role: 'owner' });
      const me = await t.api('GET', '/api/v1/me');
      expect(me.body.memberships).toContainEqual(
        expect.objectContaining({ organization_id: created.body.id, role: 'owner' }),
      );
      const members = await t.api('GET', `/api/v1/organizations/${created.body.id}/members`);
      expect(members.body.items).toEqual([
        expect.objectContaining({ user_id: me.body.user.id, role: 'owner' }),
      ]);
    });

    it("lists only the caller's organizations", async () => {
      const mine = (await t.api('GET', '/api/v1/organizations')).body.items.map((o: any) => o.name);
      expect(mine).toEqual(expect.arrayContaining(['Acme', 'Globex']));
      const user = await addMember(t, 'lister@example.com', 'member');
      const theirs = await t.api('GET', '/api/v1/organizations', { token: user.token });
      expect(theirs.body).toEqual({
        items: [expect.objectContaining({ id: t.organizationId, name: 'Acme', role: 'member' })],
        next_cursor: null,
      });
      // An organization they are invited to shows up for them; one they are not in does not.
      const other = await t.api('POST', '/api/v1/organizations', { body: { name: 'Lister Inc' } });
      await t.api('POST', '/api/v1/organizations', { body: { name: 'Not Theirs' } });
      const invited = await t.api('POST', `/api/v1/organizations/${other.body.id}/invitations`, {
        body: { email: 'lister@example.com', role: 'admin' },
      });
      const login = await fetch(`${t.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'lister@example.com', password: 'password123' }),
      });
      const cookie = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const accepted = await t.api('POST', '/api/v1/invitations/accept', {
        token: null,
        body: { token: invited.body.token },
        headers: { cookie, 'x-csrf-token': /ln_csrf=([^;]+)/.exec(cookie)![1]! },
      });
      expect(accepted.status).toBe(200);
      const after = (await t.api('GET', '/api/v1/organizations', { token: user.token })).body.items.map(
        (o: any) => o.name,
      );
      expect(after).toEqual(['Acme', 'Lister Inc']);
    });
  });

  describe('members', () => {
    const members = () => `/api/v1/organizations/${t.organizationId}/members`;

    it('changes a role and removes a member; unknown members are 404', async () => {
      const m = await joinByInvitation(t, 'mover@example.com', 'member');
      const patched = await t.api('PATCH', `${members()}/${m.userId}`, { body: { role: 'admin' } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ user_id: m.userId, role: 'admin' });
      expect((await t.api('DELETE', `${members()}/${m.userId}`)).status).toBe(204);
      expect((await t.api('DELETE', `${members()}/${m.userId}`)).status).toBe(404);
      expect((await t.api('PATCH', `${members()}/${m.userId}`, { body: { role: 'admin' } })).status).toBe(
        404,
      );
      // The user still exists and may be invited back.
      expect(
        (
          await t.api('POST', `/api/v1/organizations/${t.organizationId}/invitations`, {
            body: { email: 'mover@example.com', role: 'member' },
          })
        ).status,
      ).toBe(201);
    });
  });

  describe('projects and load tests', () => {
    it('creates, reads, lists and renames projects', async () => {
      const created = await t.api('POST', `/api/v1/organizations/${t.organizationId}/projects`, {
        body: { name: 'Checkout' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        id: expect.any(Number),
        organization_id: t.organizationId,
        name: 'Checkout',
      });
      expect((await t.api('GET', `/api/v1/projects/${created.body.id}`)).body).toEqual(created.body);
      const renamed = await t.api('PATCH', `/api/v1/projects/${created.body.id}`, {
        body: { name: 'Checkout v2' },
      });
      expect(renamed.body).toEqual({ ...created.body, name: 'Checkout v2' });
      const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/projects?limit=500`);
      expect(list.body.items).toContainEqual(renamed.body);
    });

    it('creates, reads, renames and deletes a load test; its runs and their events go with it', async () => {
      const project = await t.api('POST', `/api/v1/organizations/${t.organizationId}/projects`, {
        body: { name: 'Search' },
      });
      const lt = await t.api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
        body: { name: 'Spike' },
      });
      expect(lt.status).toBe(201);
      expect(lt.body).toMatchObject({
        project_id: project.body.id,
        organization_id: t.organizationId,
        name: 'Spike',
      });
      expect((await t.api('GET', `/api/v1/load-tests/${lt.body.id}`)).body).toEqual(lt.body);

      const patched = await t.api('PATCH', `/api/v1/load-tests/${lt.body.id}`, { body: { name: 'Spike 2' } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ id: lt.body.id, name: 'Spike 2', created_at: lt.body.created_at });
      expect((await t.api('GET', `/api/v1/load-tests/${lt.body.id}`)).body.name).toBe('Spike 2');
      const list = await t.api('GET', `/api/v1/projects/${project.body.id}/load-tests`);
      expect(list.body.items.map((x: any) => x.name)).toEqual(['Spike 2']);

      const run = await t.api('POST', `/api/v1/load-tests/${lt.body.id}/runs`, { body: {} });
      expect(run.body.name).toBe('Spike 2');
      await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
      const keep = await t.api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
        body: { name: 'Keep' },
      });
      const kept = await t.api('POST', `/api/v1/load-tests/${keep.body.id}/runs`, { body: {} });

      expect((await t.api('DELETE', `/api/v1/load-tests/${lt.body.id}`)).status).toBe(204);
      expect((await t.api('GET', `/api/v1/load-tests/${lt.body.id}`)).status).toBe(404);
      expect((await t.api('GET', `/api/v1/load-tests/${lt.body.id}/runs`)).status).toBe(404);
      expect((await t.api('GET', `/api/v1/runs/${run.body.id}`)).status).toBe(404);
      expect(
        (await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'finished' } })).status,
      ).toBe(404);
      expect((await t.api('DELETE', `/api/v1/load-tests/${lt.body.id}`)).status).toBe(404);
      expect(
        await k().selectFrom('runs').select('id').where('load_test_id', '=', lt.body.id).execute(),
      ).toEqual([]);
      expect(await k().selectFrom('events').select('id').where('run_id', '=', run.body.id).execute()).toEqual(
        [],
      );
      // Everything else stays.
      expect((await t.api('GET', `/api/v1/runs/${kept.body.id}`)).status).toBe(200);
      expect(
        (await t.api('GET', `/api/v1/projects/${project.body.id}/load-tests`)).body.items.map(
          (x: any) => x.name,
        ),
      ).toEqual(['Keep']);
    });

    it('refuses a PATCH that changes nothing, naming name', async () => {
      const project = await t.api('POST', `/api/v1/organizations/${t.organizationId}/projects`, {
        body: { name: 'Idle' },
      });
      const lt = await t.api('POST', `/api/v1/projects/${project.body.id}/load-tests`, {
        body: { name: 'Soak' },
      });
      const res = await t.api('PATCH', `/api/v1/load-tests/${lt.body.id}`, { body: {} });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain('name');
      expect((await t.api('GET', `/api/v1/load-tests/${lt.body.id}`)).body).toEqual(lt.body);
    });
  });

  describe('pagination', () => {
    let orgId: number;
    let projectId: number;
    beforeAll(async () => {
      orgId = (await t.api('POST', '/api/v1/organizations', { body: { name: 'Paged' } })).body.id;
      for (let i = 1; i <= 7; i++) {
        await t.api('POST', `/api/v1/organizations/${orgId}/projects`, { body: { name: `P${i}` } });
      }
      projectId = (await t.api('GET', `/api/v1/organizations/${orgId}/projects?limit=1`)).body.items[0].id;
      for (let i = 1; i <= 5; i++)
        await t.api('POST', `/api/v1/projects/${projectId}/load-tests`, { body: { name: `L${i}` } });
      for (let i = 1; i <= 4; i++) await joinByInvitation(t, `paged${i}@example.com`, 'member', { orgId });
    });

    it('walks every list with limit and cursor: each item once, in order, the last page says null', async () => {
      for (const [path, total] of [
        [`/api/v1/organizations/${orgId}/projects`, 7],
        [`/api/v1/projects/${projectId}/load-tests`, 5],
        [`/api/v1/organizations/${orgId}/members`, 5],
      ] as const) {
        const walked = await pages(path, 3);
        expect(walked.map((p) => p.length)).toEqual(total === 7 ? [3, 3, 1] : [3, 2]);
        const ids = walked.flat().map((x) => x.id ?? x.user_id);
        expect(new Set(ids).size).toBe(total);
        expect([...ids].sort((a, b) => a - b)).toEqual(ids);
        const whole = await t.api('GET', `${path}?limit=500`);
        expect(whole.body.next_cursor).toBeNull();
        expect(whole.body.items).toEqual(walked.flat());
      }
      // An exact multiple: the cursor may point at an empty last page, but never repeats items.
      const exact = await pages(`/api/v1/organizations/${orgId}/projects`, 7);
      expect(exact.flat()).toHaveLength(7);
      const orgs = await pages('/api/v1/organizations', 1);
      expect(new Set(orgs.flat().map((o) => o.id)).size).toBe(orgs.flat().length);
    });

    it('defaults to 50 and refuses limit=501, limit=0 and a bad cursor with 400', async () => {
      const path = `/api/v1/organizations/${orgId}/projects`;
      expect((await t.api('GET', path)).body.items).toHaveLength(7);
      expect((await t.api('GET', `${path}?limit=500`)).status).toBe(200);
      for (const q of ['limit=501', 'limit=0', 'limit=-1', 'limit=abc', 'cursor=abc', 'cursor=-1']) {
        const res = await t.api('GET', `${path}?${q}`);
        expect(res.status, q).toBe(400);
        expect(res.body.error.message).toContain(q.split('=')[0]);
      }
    });
  });
});
