/**
 * A throttled sign-in says how long to wait, in the unit a person would use, and the same wait
 * as Retry-After. A lock of minutes (what repeated failures grow to) is written into the real
 * store rather than reached by a dozen failed sign-ins and their waits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.each(DIALECTS)('a throttled sign-in (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect);
  });
  afterAll(() => t.close());

  it('says "try again in N minutes" for a lock of minutes, matching Retry-After', async () => {
    const now = Date.now();
    await t.server.ctx.db.kysely
      .insertInto('login_failures')
      .values({ key: 'email:owner@example.com', failures: 14, first_at: now, locked_until: now + 150_000 })
      .execute();
    const res = await t.api('POST', '/api/v1/auth/login', {
      token: null,
      body: { email: 'owner@example.com', password: 'correct horse' },
    });
    expect(res.status).toBe(429);
    const wait = Number(res.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(120);
    expect(wait).toBeLessThanOrEqual(150);
    expect(res.body.error).toEqual({
      code: 'too_many_attempts',
      message: 'too many failed sign-ins; try again in 3 minutes',
      details: { retry_after_seconds: wait },
    });
  });
});
