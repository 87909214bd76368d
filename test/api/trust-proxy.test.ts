/**
 * TRUST_PROXY: behind a reverse proxy every request comes from the proxy's address, so the
 * per-address sign-in throttle would lock every user out together. With the proxy named, the
 * client address comes from X-Forwarded-For; without it, the header is ignored (a client could
 * otherwise pick any address it likes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const login = (t: TestServer, email: string, clientIp: string) =>
  t.api('POST', '/api/v1/auth/login', {
    token: null,
    body: { email, password: 'wrong password' },
    headers: { 'x-forwarded-for': clientIp },
  });

/** Six failed sign-ins (distinct e-mails) from one client lock that client's address. */
async function lockOut(t: TestServer, clientIp: string) {
  for (let i = 0; i < 6; i++) expect((await login(t, `guess${i}@example.com`, clientIp)).status).toBe(401);
}

describe('TRUST_PROXY', () => {
  it('takes the client address from X-Forwarded-For when the proxy is named', async () => {
    t = await startTestServer('sqlite', { env: { TRUST_PROXY: '127.0.0.1' }, setup: false });
    await lockOut(t, '203.0.113.5');
    // Right after the lock (it lasts 1 s), before another slow password check.
    expect((await login(t, 'other@example.com', '203.0.113.5')).status).toBe(429);
    expect((await login(t, 'someone@example.com', '203.0.113.6')).status).toBe(401);
  });

  it('ignores X-Forwarded-For by default', async () => {
    t = await startTestServer('sqlite', { setup: false });
    await lockOut(t, '203.0.113.5');
    // Every request is the proxy's (here: loopback's), so the other client is locked out too.
    expect((await login(t, 'someone@example.com', '203.0.113.6')).status).toBe(429);
  });

  it('accepts addresses, CIDRs and range names, and refuses anything else naming the variable', () => {
    const env = { DATA_DIR: '/tmp/unused', LOADNOTIFY_SECRET_KEY: 'a'.repeat(64) };
    expect(loadConfig(env).trustProxy).toEqual([]);
    expect(loadConfig({ ...env, TRUST_PROXY: ' 10.0.0.0/8, ::1 ,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '::1',
      'loopback',
    ]);
    expect(() => loadConfig({ ...env, TRUST_PROXY: 'true' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, TRUST_PROXY: 'proxy.example.com' })).toThrow(/TRUST_PROXY/);
  });
});
