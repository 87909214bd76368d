/**
 * Issue #17, part of 10: e-mails are compared after NFKC and lower-casing, so the ligature ﬀ
 * (U+FB00) or fullwidth letters name the same user as the plain letters they stand for, in
 * sign-in and invitations (setup creates its user through the same function). Lower-casing
 * alone made ﬀ@a.test and ff@a.test two users.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { joinByInvitation, startTestServer, type TestServer } from '../helpers/server.js';

const PLAIN = 'ff@a.test';
const LIGATURE = '\uFB00@a.test'; // ﬀ@a.test
const FULLWIDTH = '\uFF26\uFF26\uFF20\uFF41.test'; // ＦＦ＠ａ.test
const PASSWORD = 'correct horse';

describe.each(DIALECTS)('e-mail normalization (%s)', (dialect) => {
  let t: TestServer;
  let userId: number;
  beforeAll(async () => {
    t = await startTestServer(dialect);
    // A user of its own: invited to the owner's organization, joining with a password.
    ({ userId } = await joinByInvitation(t, PLAIN, 'member', { password: PASSWORD }));
  });
  afterAll(() => t?.close());

  const login = (email: string) =>
    fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });

  it('signs in as the same user with the ligature or fullwidth spelling', async () => {
    for (const email of [LIGATURE, FULLWIDTH, ' FF@A.TEST ']) {
      const res = await login(email);
      expect({ email, status: res.status }).toEqual({ email, status: 200 });
      expect(((await res.json()) as { user: { id: number; email: string } }).user).toMatchObject({
        id: userId,
        email: PLAIN,
      });
    }
  });

  it('an invitation to the ligature spelling is for the existing user, never a new one', async () => {
    const org = await t.api('POST', '/api/v1/organizations', { body: { name: 'Globex' } });
    expect(org.status).toBe(201);
    const invited = await t.api('POST', `/api/v1/organizations/${org.body.id}/invitations`, {
      body: { email: LIGATURE, role: 'member' },
    });
    expect(invited.status).toBe(201);
    expect(invited.body.email).toBe(PLAIN);

    // Accepting as a new user with that spelling would make a second account.
    const asNew = await t.api('POST', '/api/v1/invitations/accept', {
      token: null,
      body: { token: invited.body.token, password: 'another password' },
    });
    expect(asNew.status).toBe(409);
    expect(asNew.body.error.code).toBe('sign_in_required');

    const session = await login(FULLWIDTH);
    const cookie = session.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const csrf = /ln_csrf=([^;]+)/.exec(cookie)![1]!;
    const accepted = await t.api('POST', '/api/v1/invitations/accept', {
      token: null,
      body: { token: invited.body.token },
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body.user.id).toBe(userId);
    const users = await t.server.ctx.db.kysely.selectFrom('users').select('email').orderBy('id').execute();
    expect(users.map((u) => u.email)).toEqual(['owner@example.com', PLAIN]);
  });
});
