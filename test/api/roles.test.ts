import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import {
  addMember,
  joinByInvitation,
  seedLoadTest,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';

type Role = 'owner' | 'admin' | 'member';
const ROLES: Role[] = ['owner', 'admin', 'member'];

/**
 * API.md's roles table, row by row, for each role; and the tenant boundary: another
 * organization's resources answer exactly like ids that do not exist.
 *
 * Not here: the notification channel rows (read channels and deliveries: all roles; create,
 * edit, delete, test, redeliver: member 403). They belong to the channel routes and are
 * covered with them.
 */
describe.each(DIALECTS)('roles (%s)', (dialect) => {
  let t: TestServer;
  let projectId: number;
  let loadTestId: number;
  const tokens = {} as Record<Role, string>;
  let seq = 0;
  const unique = (what: string) => `${what}-${++seq}@example.com`;

  beforeAll(async () => {
    t = await startTestServer(dialect);
    ({ projectId, loadTestId } = await seedLoadTest(t));
    tokens.owner = t.ownerToken;
    tokens.admin = (await addMember(t, 'admin@example.com', 'admin')).token;
    tokens.member = (await addMember(t, 'member@example.com', 'member')).token;
  });
  afterAll(() => t.close());

  const as = (role: Role) => (method: string, path: string, body?: unknown) =>
    t.api(method, path, { token: tokens[role], body });
  const members = (orgId = t.organizationId) => `/api/v1/organizations/${orgId}/members`;
  const invitations = (orgId = t.organizationId) => `/api/v1/organizations/${orgId}/invitations`;
  /** A fresh user with the given role in the test organization, added by the owner. */
  const target = async (role: Role) => (await joinByInvitation(t, unique(role), role)).userId;
  const roleOf = async (userId: number) => {
    const list = await t.api('GET', `${members()}?limit=500`);
    return list.body.items.find((m: any) => m.user_id === userId)?.role ?? null;
  };

  describe.each(ROLES)('as %s', (role) => {
    it('reads projects, load tests and runs', async () => {
      const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
      const call = as(role);
      for (const path of [
        `/api/v1/organizations/${t.organizationId}`,
        `/api/v1/organizations/${t.organizationId}/projects`,
        `/api/v1/projects/${projectId}`,
        `/api/v1/projects/${projectId}/load-tests`,
        `/api/v1/load-tests/${loadTestId}`,
        `/api/v1/load-tests/${loadTestId}/runs`,
        `/api/v1/organizations/${t.organizationId}/runs`,
        `/api/v1/runs/${run.body.id}`,
        members(),
      ]) {
        const res = await call('GET', path);
        expect(res.status, path).toBe(200);
      }
      expect((await call('GET', `/api/v1/organizations/${t.organizationId}`)).body.role).toBe(role);
    });

    it('creates runs and changes their status', async () => {
      const call = as(role);
      const run = await call('POST', `/api/v1/load-tests/${loadTestId}/runs`, { trigger: 'api' });
      expect(run.status).toBe(201);
      const me = await call('GET', '/api/v1/me');
      expect(run.body.user_id).toBe(me.body.user.id);
      expect((await call('POST', `/api/v1/runs/${run.body.id}/status`, { status: 'running' })).status).toBe(
        200,
      );
      const done = await call('POST', `/api/v1/runs/${run.body.id}/status`, {
        status: 'finished',
        result: 'failed',
      });
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ status: 'finished', result: 'failed' });
    });

    it('creates and edits projects and load tests', async () => {
      const call = as(role);
      const project = await call('POST', `/api/v1/organizations/${t.organizationId}/projects`, {
        name: `P ${role}`,
      });
      expect(project.status).toBe(201);
      const renamed = await call('PATCH', `/api/v1/projects/${project.body.id}`, { name: `P2 ${role}` });
      expect(renamed.status).toBe(200);
      expect(renamed.body.name).toBe(`P2 ${role}`);
      const lt = await call('POST', `/api/v1/projects/${project.body.id}/load-tests`, { name: `LT ${role}` });
      expect(lt.status).toBe(201);
      const edited = await call('PATCH', `/api/v1/load-tests/${lt.body.id}`, { name: `LT2 ${role}` });
      expect(edited.status).toBe(200);
      expect((await call('GET', `/api/v1/load-tests/${lt.body.id}`)).body.name).toBe(`LT2 ${role}`);
    });
  });

  describe('managing members', () => {
    it('owner: invites, changes and removes members of every role, owner included', async () => {
      const call = as('owner');
      for (const r of ROLES) {
        const added = await call('POST', invitations(), { email: unique(`o-${r}`), role: r });
        expect(added.status).toBe(201);
        expect(added.body.role).toBe(r);
      }
      const m = await target('member');
      for (const r of ['admin', 'owner', 'member'] as const) {
        const res = await call('PATCH', `${members()}/${m}`, { role: r });
        expect(res.status).toBe(200);
        expect(await roleOf(m)).toBe(r);
      }
      const o = await target('owner');
      expect((await call('DELETE', `${members()}/${o}`)).status).toBe(204);
      expect(await roleOf(o)).toBeNull();
      expect((await call('DELETE', `${members()}/${m}`)).status).toBe(204);
    });

    it('admin: invites and manages members and admins, but never to or from owner (403)', async () => {
      const call = as('admin');
      for (const r of ['member', 'admin'] as const) {
        expect((await call('POST', invitations(), { email: unique(`a-${r}`), role: r })).status).toBe(201);
      }
      const newOwner = await call('POST', invitations(), { email: unique('a-owner'), role: 'owner' });
      expect(newOwner.status).toBe(403);
      expect(newOwner.body.error.code).toBe('forbidden');

      const m = await target('member');
      expect((await call('PATCH', `${members()}/${m}`, { role: 'admin' })).status).toBe(200);
      expect((await call('PATCH', `${members()}/${m}`, { role: 'member' })).status).toBe(200);
      const promote = await call('PATCH', `${members()}/${m}`, { role: 'owner' });
      expect(promote.status).toBe(403);
      expect(promote.body.error.code).toBe('forbidden');
      expect(await roleOf(m)).toBe('member');

      const o = await target('owner');
      const demote = await call('PATCH', `${members()}/${o}`, { role: 'admin' });
      expect(demote.status).toBe(403);
      const remove = await call('DELETE', `${members()}/${o}`);
      expect(remove.status).toBe(403);
      expect(await roleOf(o)).toBe('owner');

      const a = await target('admin');
      expect((await call('DELETE', `${members()}/${a}`)).status).toBe(204);
      expect((await call('DELETE', `${members()}/${m}`)).status).toBe(204);
      expect(await roleOf(m)).toBeNull();
    });

    it('member: may not invite, change or remove anyone (403), not even to member', async () => {
      const call = as('member');
      const before = (await t.api('GET', `${members()}?limit=500`)).body.items;
      for (const r of ROLES) {
        const res = await call('POST', invitations(), { email: unique(`m-${r}`), role: r });
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      }
      const m = await target('member');
      const others = [m, (await t.api('GET', '/api/v1/me')).body.user.id];
      for (const id of others) {
        for (const r of ROLES)
          expect((await call('PATCH', `${members()}/${id}`, { role: r })).status).toBe(403);
        expect((await call('DELETE', `${members()}/${id}`)).status).toBe(403);
      }
      const after = (await t.api('GET', `${members()}?limit=500`)).body.items;
      expect(after.filter((x: any) => x.user_id !== m)).toEqual(before);
    });
  });

  describe('the last owner', () => {
    it('cannot be removed or demoted (409 last_owner); with a second owner it can', async () => {
      const org = await t.api('POST', '/api/v1/organizations', { body: { name: 'Solo' } });
      const orgId = org.body.id as number;
      const me = (await t.api('GET', '/api/v1/me')).body.user.id as number;
      for (const r of ['admin', 'member'] as const) {
        const res = await t.api('PATCH', `${members(orgId)}/${me}`, { body: { role: r } });
        expect(res.status).toBe(409);
        expect(res.body.error.code).toBe('last_owner');
      }
      const removed = await t.api('DELETE', `${members(orgId)}/${me}`);
      expect(removed.status).toBe(409);
      expect(removed.body.error.code).toBe('last_owner');
      // Owner to owner changes nothing and is fine.
      expect((await t.api('PATCH', `${members(orgId)}/${me}`, { body: { role: 'owner' } })).status).toBe(200);

      const second = await addMember(t, unique('second-owner'), 'owner', orgId);
      expect((await t.api('PATCH', `${members(orgId)}/${me}`, { body: { role: 'admin' } })).status).toBe(200);
      // Now the second owner is the last one, even against themself.
      const self = await t.api('DELETE', `${members(orgId)}/${second.userId}`, { token: second.token });
      expect(self.status).toBe(409);
      expect(self.body.error.code).toBe('last_owner');
    });

    it('survives two owners demoting each other at once: one owner is always left', async () => {
      const org = await t.api('POST', '/api/v1/organizations', { body: { name: 'Duo' } });
      const orgId = org.body.id as number;
      const me = (await t.api('GET', '/api/v1/me')).body.user.id as number;
      const other = await addMember(t, unique('duo'), 'owner', orgId);
      const answers = await Promise.all([
        t.api('PATCH', `${members(orgId)}/${other.userId}`, { body: { role: 'member' } }),
        t.api('DELETE', `${members(orgId)}/${me}`, { token: other.token }),
      ]);
      // Either may win: the demotion answers 200, the removal 204. The loser either finds
      // itself demoted already (403) or the other as last owner (409).
      expect(answers.filter((a) => a.status === 200 || a.status === 204)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 403 || a.status === 409)).toHaveLength(1);
      const list = await t.api('GET', members(orgId));
      expect(list.body.items.filter((m: any) => m.role === 'owner')).toHaveLength(1);
    });
  });

  describe('another organization', () => {
    let outsider: string;
    let runId: number;
    let memberId: number;
    beforeAll(async () => {
      const b = await t.api('POST', '/api/v1/organizations', { body: { name: 'Org B' } });
      // The outsider is owner of B and nothing else.
      outsider = (await addMember(t, 'outsider@example.com', 'owner', b.body.id)).token;
      runId = (await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} })).body.id;
      memberId = (await t.api('GET', members())).body.items.find((m: any) => m.role === 'member').user_id;
    });

    const requests = (ids: { org: number; project: number; loadTest: number; run: number; user: number }) =>
      [
        ['GET', `/api/v1/organizations/${ids.org}`],
        ['GET', `/api/v1/organizations/${ids.org}/projects`],
        ['POST', `/api/v1/organizations/${ids.org}/projects`, { name: 'x' }],
        ['GET', `/api/v1/organizations/${ids.org}/runs`],
        ['GET', `/api/v1/organizations/${ids.org}/members`],
        [
          'POST',
          `/api/v1/organizations/${ids.org}/members`,
          { email: 'outsider@example.com', role: 'owner' },
        ],
        ['PATCH', `/api/v1/organizations/${ids.org}/members/${ids.user}`, { role: 'owner' }],
        ['DELETE', `/api/v1/organizations/${ids.org}/members/${ids.user}`],
        ['GET', `/api/v1/projects/${ids.project}`],
        ['PATCH', `/api/v1/projects/${ids.project}`, { name: 'x' }],
        ['GET', `/api/v1/projects/${ids.project}/load-tests`],
        ['POST', `/api/v1/projects/${ids.project}/load-tests`, { name: 'x' }],
        ['GET', `/api/v1/load-tests/${ids.loadTest}`],
        ['PATCH', `/api/v1/load-tests/${ids.loadTest}`, { name: 'x' }],
        ['DELETE', `/api/v1/load-tests/${ids.loadTest}`],
        ['GET', `/api/v1/load-tests/${ids.loadTest}/runs`],
        ['POST', `/api/v1/load-tests/${ids.loadTest}/runs`, {}],
        ['GET', `/api/v1/runs/${ids.run}`],
        ['POST', `/api/v1/runs/${ids.run}/status`, { status: 'aborted_by_user' }],
      ] as [string, string, unknown?][];

    it("answers 404 for every one of its resources, exactly as for ids that don't exist", async () => {
      const real = requests({
        org: t.organizationId,
        project: projectId,
        loadTest: loadTestId,
        run: runId,
        user: memberId,
      });
      const missing = requests({
        org: 999_999,
        project: 999_999,
        loadTest: 999_999,
        run: 999_999,
        user: memberId,
      });
      for (const [i, [method, path, body]] of real.entries()) {
        const res = await t.api(method, path, { token: outsider, body });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.error.code).toBe('not_found');
        const [m2, p2, b2] = missing[i]!;
        const ghost = await t.api(m2, p2, { token: outsider, body: b2 });
        expect(res.body, `${method} ${path}`).toEqual(ghost.body);
      }
    });

    it('changed nothing there', async () => {
      const run = await t.api('GET', `/api/v1/runs/${runId}`);
      expect(run.body.status).toBe('created');
      expect((await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.name).toBe('Load test');
      expect((await t.api('GET', `/api/v1/projects/${projectId}`)).body.name).toBe('Web');
      const runs = await t.server.ctx.db.kysely
        .selectFrom('runs')
        .innerJoin('users', 'users.id', 'runs.user_id')
        .select('users.email')
        .where('users.email', '=', 'outsider@example.com')
        .execute();
      expect(runs).toEqual([]);
      const list = await t.api('GET', `${members()}?limit=500`);
      expect(list.body.items.map((m: any) => m.email)).not.toContain('outsider@example.com');
      expect(list.body.items.find((m: any) => m.user_id === memberId).role).toBe('member');
    });

    it('does not list it among the caller’s organizations', async () => {
      const orgs = await t.api('GET', '/api/v1/organizations', { token: outsider });
      expect(orgs.body.items.map((o: any) => o.name)).toEqual(['Org B']);
    });

    it('a removed member loses access at once (404)', async () => {
      const gone = await addMember(t, unique('leaver'), 'member');
      expect((await t.api('GET', `/api/v1/runs/${runId}`, { token: gone.token })).status).toBe(200);
      expect((await t.api('DELETE', `${members()}/${gone.userId}`)).status).toBe(204);
      const res = await t.api('GET', `/api/v1/runs/${runId}`, { token: gone.token });
      expect(res.status).toBe(404);
    });
  });
});
