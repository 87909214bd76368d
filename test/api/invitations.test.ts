import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { addMember, joinByInvitation, startTestServer, type TestServer } from '../helpers/server.js';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.js';

/**
 * Membership by invitation (API.md, Roles; issue #17, hole 2). The attack as reproduced: a
 * member created `newhire@…` with a password of its choosing through its own organization's
 * members endpoint; the victim organization's owner later added that address and the attacker
 * signed in as admin of the victim organization. Now nobody chooses another person's password,
 * nobody joins without accepting, and inviting says nothing about which e-mails have accounts.
 */
describe.each(DIALECTS)('invitations (%s)', (dialect) => {
  let t: TestServer;
  let smtp: SmtpPeer;
  let admin: string;
  let member: string;
  let seq = 0;
  const unique = (what: string) => `${what}-${++seq}@example.com`;
  const invitations = (orgId = t.organizationId) => `/api/v1/organizations/${orgId}/invitations`;
  const members = (orgId = t.organizationId) => `/api/v1/organizations/${orgId}/members`;
  const k = () => t.server.ctx.db.kysely;
  const count = async (table: 'users' | 'memberships') =>
    Number(
      (
        await k()
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const accept = (body: unknown, headers: Record<string, string> = {}) =>
    t.api('POST', '/api/v1/invitations/accept', { token: null, body, headers });
  async function signIn(email: string, password = 'password123') {
    const res = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    return { cookie, 'x-csrf-token': /ln_csrf=([^;]+)/.exec(cookie)![1]! };
  }
  const emails = async (orgId = t.organizationId) =>
    (await t.api('GET', `${members(orgId)}?limit=500`)).body.items.map((m: any) => m.email);

  beforeAll(async () => {
    smtp = await startSmtpPeer();
    t = await startTestServer(dialect, {
      env: {
        LOADNOTIFY_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        LOADNOTIFY_SMTP_FROM: 'loadnotify@example.com',
        PUBLIC_URL: 'https://notify.example.com',
      },
    });
    admin = (await addMember(t, 'admin@example.com', 'admin')).token;
    member = (await addMember(t, 'member@example.com', 'member')).token;
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  it('the members endpoint adds nobody and sets no password any more (410, nothing written)', async () => {
    const users = await count('users');
    const res = await t.api('POST', members(), {
      body: { email: 'newhire@example.com', role: 'admin', password: 'password123' },
    });
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe('use_invitations');
    expect(res.body.error.message).toContain('/invitations');
    expect(await count('users')).toBe(users);
  });

  it('answers the same whether or not the e-mail has an account, and adds nobody yet', async () => {
    const before = await emails();
    const known = await t.api('POST', invitations(), {
      body: { email: 'member@example.com', role: 'admin' },
    });
    const fresh = await t.api('POST', invitations(), { body: { email: unique('fresh'), role: 'admin' } });
    expect(known.status).toBe(201);
    expect(fresh.status).toBe(201);
    expect(Object.keys(known.body).sort()).toEqual(Object.keys(fresh.body).sort());
    for (const res of [known, fresh]) {
      expect(res.body).toMatchObject({ role: 'admin', state: 'pending', emailed: true });
      expect(res.body.accept_url).toBe(
        `https://notify.example.com/invitations/accept#token=${res.body.token}`,
      );
      expect(Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)).toBe(7 * 86_400_000);
    }
    expect(await emails()).toEqual(before);
  });

  it("the pre-registration attack: an account made through another organization's link joins no other", async () => {
    // The attacker owns an organization of their own and invites the victim's future hire there,
    // accepting the link themselves with a password they chose.
    const attackerOrg = (await t.api('POST', '/api/v1/organizations', { body: { name: 'Attacker Inc' } }))
      .body.id;
    const joined = await joinByInvitation(t, 'newhire@example.com', 'owner', {
      orgId: attackerOrg,
      password: 'attacker-pass',
    });
    const attacker = { cookie: joined.cookies, 'x-csrf-token': joined.csrf };
    // The victim organization invites the same address, as in the report.
    const invited = await t.api('POST', invitations(), {
      body: { email: 'newhire@example.com', role: 'admin' },
    });
    expect(invited.status).toBe(201);
    expect(await emails()).not.toContain('newhire@example.com');
    // Signed in as newhire@, the attacker still needs the victim's link, which went to the invitee.
    const forged = await accept({ token: `lni_${'A'.repeat(43)}` }, attacker);
    expect(forged.status).toBe(404);
    const own = await t.api('GET', '/api/v1/organizations', { token: null, headers: attacker });
    expect(own.body.items.map((o: any) => o.id)).toEqual([attackerOrg]);
    expect((await t.api('GET', members(), { token: null, headers: attacker })).status).toBe(404);
    expect(await emails()).not.toContain('newhire@example.com');
  });

  it('a new user accepts with a password of their own, is signed in, and the link works once', async () => {
    const email = unique('new');
    const invited = await t.api('POST', invitations(), { body: { email, role: 'admin' } });
    const preview = await t.api('POST', '/api/v1/invitations/preview', {
      token: null,
      body: { token: invited.body.token },
    });
    expect(preview.body).toEqual({
      organization_name: 'Acme',
      email,
      role: 'admin',
      expires_at: invited.body.expires_at,
    });
    const noPassword = await accept({ token: invited.body.token });
    expect(noPassword.status).toBe(400);
    expect(noPassword.body.error.details).toEqual([expect.objectContaining({ field: 'password' })]);

    const res = await accept({ token: invited.body.token, password: 'my own password' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      user: { email },
      organization: { id: t.organizationId },
      role: 'admin',
    });
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const me = await t.api('GET', '/api/v1/me', { token: null, headers: { cookie } });
    expect(me.body.memberships).toEqual([
      expect.objectContaining({ organization_id: t.organizationId, role: 'admin' }),
    ]);
    await signIn(email, 'my own password');

    const users = await count('users');
    const again = await accept({ token: invited.body.token, password: 'another password' });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('invitation_invalid');
    expect(await count('users')).toBe(users);
    const listed = (await t.api('GET', invitations())).body.items.find((i: any) => i.id === invited.body.id);
    expect(listed.state).toBe('accepted');
  });

  it('an existing user accepts signed in as the invited e-mail, and only as it', async () => {
    const email = unique('existing');
    const other = (await t.api('POST', '/api/v1/organizations', { body: { name: `Other ${seq}` } })).body.id;
    await joinByInvitation(t, email, 'member', { orgId: other });
    const invited = await t.api('POST', invitations(), { body: { email, role: 'member' } });

    // Not signed in: the account exists, so no password may be set for it.
    const users = await count('users');
    const asNew = await accept({ token: invited.body.token, password: 'takeover attempt' });
    expect(asNew.status).toBe(409);
    expect(asNew.body.error.code).toBe('sign_in_required');
    expect(await count('users')).toBe(users);
    await signIn(email); // the old password still works

    const wrong = await accept({ token: invited.body.token }, await signIn('member@example.com'));
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.message).toContain(email);

    const session = await signIn(email);
    const noCsrf = await accept({ token: invited.body.token }, { cookie: session.cookie });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error.code).toBe('csrf_failed');
    expect(await emails()).not.toContain(email);

    const ok = await accept({ token: invited.body.token }, session);
    expect(ok.status).toBe(200);
    expect(await emails()).toContain(email);
  });

  it('expired, revoked and superseded links do not work', async () => {
    const email = unique('late');
    const old = await t.api('POST', invitations(), { body: { email, role: 'member' } });
    const newer = await t.api('POST', invitations(), { body: { email, role: 'member' } });
    expect((await accept({ token: old.body.token, password: 'password123' })).status).toBe(404);

    await k()
      .updateTable('invitations')
      .set({ expires_at: Date.now() - 1 })
      .where('id', '=', newer.body.id)
      .execute();
    const expired = await accept({ token: newer.body.token, password: 'password123' });
    expect(expired.status).toBe(404);
    expect(expired.body.error.message).toContain('expired');

    const third = await t.api('POST', invitations(), { body: { email, role: 'member' } });
    expect((await t.api('DELETE', `/api/v1/invitations/${third.body.id}`)).status).toBe(204);
    expect((await t.api('DELETE', `/api/v1/invitations/${third.body.id}`)).status).toBe(409);
    expect((await accept({ token: third.body.token, password: 'password123' })).status).toBe(404);
    expect(await emails()).not.toContain(email);
  });

  it('who may invite, list and revoke: owners and admins, admins not owners; members and other organizations not', async () => {
    expect(
      (await t.api('POST', invitations(), { token: admin, body: { email: unique('a'), role: 'admin' } }))
        .status,
    ).toBe(201);
    const asOwner = await t.api('POST', invitations(), {
      token: admin,
      body: { email: unique('a'), role: 'owner' },
    });
    expect(asOwner.status).toBe(403);
    const byMember = await t.api('POST', invitations(), {
      token: member,
      body: { email: unique('m'), role: 'member' },
    });
    expect(byMember.status).toBe(403);
    expect((await t.api('GET', invitations(), { token: member })).status).toBe(403);
    expect((await t.api('GET', invitations(), { token: admin })).status).toBe(200);

    const elsewhere = (await t.api('POST', '/api/v1/organizations', { body: { name: 'Elsewhere' } })).body.id;
    const theirs = await t.api('POST', invitations(elsewhere), {
      body: { email: unique('x'), role: 'member' },
    });
    for (const token of [admin, member]) {
      expect(
        (await t.api('POST', invitations(elsewhere), { token, body: { email: unique('y'), role: 'member' } }))
          .status,
      ).toBe(404);
      expect((await t.api('GET', invitations(elsewhere), { token })).status).toBe(404);
      expect((await t.api('DELETE', `/api/v1/invitations/${theirs.body.id}`, { token })).status).toBe(404);
    }
    const mine = await t.api('POST', invitations(), { body: { email: unique('r'), role: 'member' } });
    expect((await t.api('DELETE', `/api/v1/invitations/${mine.body.id}`, { token: member })).status).toBe(
      403,
    );
    expect((await t.api('DELETE', `/api/v1/invitations/${mine.body.id}`, { token: admin })).status).toBe(204);
    // No invitation list entry leaks the token.
    const listed = (await t.api('GET', `${invitations()}?limit=500`)).body.items;
    expect(listed.every((i: any) => i.token === undefined)).toBe(true);
  });

  it('e-mails the link through the operator’s mail server', async () => {
    const email = unique('mailed');
    const before = smtp.mails.length;
    const invited = await t.api('POST', invitations(), { body: { email, role: 'member' } });
    expect(invited.body.emailed).toBe(true);
    const mail = smtp.mails.slice(before).find((m) => m.envelope.to.includes(email));
    expect(mail?.parsed.subject).toBe('You are invited to Acme on loadnotify');
    expect(mail?.parsed.text).toContain(invited.body.accept_url);
    expect(mail?.envelope.from).toBe('loadnotify@example.com');
  });
});
