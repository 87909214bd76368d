/**
 * Issue #17, hole 5: requests that are not signed in must not grow the database without bound.
 * A locked key (client address or e-mail) refuses the attempt before any row is written; the
 * rows that are written are pruned by the retention pass (test/ops/pruner.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.each(DIALECTS)('sign-in throttle rows (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    // Behind a named proxy, so each test picks its clients' addresses.
    t = await startTestServer(dialect, { setup: false, env: { TRUST_PROXY: '127.0.0.1' } });
  });
  afterAll(() => t?.close());

  const login = (email: string, clientIp: string) =>
    t.api('POST', '/api/v1/auth/login', {
      token: null,
      body: { email, password: 'wrong password' },
      headers: { 'x-forwarded-for': clientIp },
    });
  const rows = async () =>
    Number(
      (
        await t.server.ctx.db.kysely
          .selectFrom('login_failures')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  /** The first lock lasts 1 s; lengthened so a slow machine cannot outlast it mid-test. */
  const extendLock = (key: string) =>
    t.server.ctx.db.kysely
      .updateTable('login_failures')
      .set({ locked_until: Date.now() + 10 * 60_000 })
      .where('key', '=', key)
      .execute();

  it('a locked client address adds no row for the new e-mails it tries', async () => {
    const before = await rows();
    for (let i = 0; i < 6; i++)
      expect((await login(`guess${i}@example.com`, '203.0.113.5')).status).toBe(401);
    expect(await rows()).toBe(before + 7); // six e-mails and the address
    await extendLock('ip:203.0.113.5');
    for (let i = 0; i < 40; i++) {
      const res = await login(`another${i}@example.com`, '203.0.113.5');
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('too_many_attempts');
    }
    expect(await rows()).toBe(before + 7);
  });

  it('a locked e-mail adds no row for the new addresses that try it', async () => {
    const before = await rows();
    for (let i = 0; i < 6; i++)
      expect((await login('victim@example.com', `198.51.100.${i}`)).status).toBe(401);
    expect(await rows()).toBe(before + 7); // the e-mail and six addresses
    await extendLock('email:victim@example.com');
    for (let i = 10; i < 50; i++)
      expect((await login('victim@example.com', `198.51.100.${i}`)).status).toBe(429);
    expect(await rows()).toBe(before + 7);
  });
});
