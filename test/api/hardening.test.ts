/**
 * Issue #17, holes 6 and 8: authentication is decided by the route the router matched, never by
 * the raw URL; a body nested without bound is a 400 naming the problem, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer('sqlite');
});
afterAll(() => t?.close());

const webhook = { type: 'webhook', name: 'hook', url: 'https://hooks.example.com/x' };

/** A session cookie and its CSRF token for the owner, as the web app holds them. */
async function ownerSession(): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${t.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'owner@example.com', password: 'correct horse' }),
  });
  expect(res.status).toBe(200);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return { cookie, csrf: /ln_csrf=([^;]+)/.exec(cookie)![1]! };
}

describe('authentication by the matched route (hole 6)', () => {
  // Each reaches a real route once the router has decoded it.
  const encoded = (org: number): [string, string, unknown][] => [
    ['POST', `/%61pi/v1/organizations/${org}/notification-channels`, {}],
    ['POST', `/%61%70%69/v1/organizations/${org}/projects`, {}],
    ['POST', `/api/v1/%6Frganizations/${org}/notification-channels`, {}],
    ['POST', `/api/v1/organizations/${org}/%6Eotification-channels`, { type: 'webhook' }],
    ['PATCH', '/%61pi/v1/load-tests/1', { name: 'x'.repeat(10_000) }],
    ['POST', '/%61pi/v1/tokens', {}],
    ['GET', `/%61pi/v1/organizations/${org}/projects`, undefined],
  ];

  it('answers 401 without credentials, before any handler or validation', async () => {
    for (const [method, path, body] of encoded(t.organizationId)) {
      const res = await t.api(method, path, { token: null, body });
      expect({ method, path, status: res.status, body: res.body }).toMatchObject({
        status: 401,
        body: { error: { code: 'unauthenticated', message: expect.stringContaining('API token') } },
      });
    }
  });

  it('asks a cookie-authenticated write on an encoded path for its CSRF token', async () => {
    const { cookie, csrf } = await ownerSession();
    const path = `/%61pi/v1/organizations/${t.organizationId}/projects`;
    const forged = await t.api('POST', path, { token: null, body: { name: 'P' }, headers: { cookie } });
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe('csrf_failed');
    const real = await t.api('POST', path, {
      token: null,
      body: { name: 'P' },
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(real.status).toBe(201);
  });

  it('serves an encoded path to a signed-in caller as the same route', async () => {
    const res = await t.api('POST', `/%61pi/v1/organizations/${t.organizationId}/notification-channels`, {
      body: webhook,
    });
    expect(res.status).toBe(201);
    expect((await t.api('GET', `/api/v1/notification-channels/${res.body.id}`)).body.name).toBe('hook');
  });

  it('answers 404 where no route matches, with or without credentials', async () => {
    const org = t.organizationId;
    for (const path of [
      `//api/v1/organizations/${org}/notification-channels`,
      `/API/v1/organizations/${org}/notification-channels`,
      `/api/v1/organizations%2F${org}/notification-channels`,
      '/%61pi/v1/nothing-here',
      '/api/v1/nothing-here',
    ]) {
      for (const token of [null, undefined]) {
        const res = await t.api('POST', path, { token, body: {} });
        expect({ path, token, status: res.status, code: res.body?.error?.code }).toEqual({
          path,
          token,
          status: 404,
          code: 'not_found',
        });
      }
    }
  });

  it('keeps public routes public on encoded paths', async () => {
    expect((await t.api('GET', '/%61pi/v1/setup', { token: null })).body).toEqual({ needed: false });
    const login = await t.api('POST', '/%61pi/v1/auth/login', {
      token: null,
      body: { email: 'owner@example.com', password: 'correct horse' },
    });
    expect(login.status).toBe(200);
  });
});

describe('deeply nested bodies (hole 8)', () => {
  const nested = (levels: number, leaf = '1') => '['.repeat(levels) + leaf + ']'.repeat(levels);
  const tooDeep = {
    status: 400,
    body: {
      error: { code: 'body_too_deep', message: expect.stringMatching(/nested too deeply \(over \d+ levels/) },
    },
  };

  it('answers 400 naming the problem for a channel config nested 100,000 levels', async () => {
    const rawBody = `{"type":"webhook","name":"deep","url":"https://x.example.com/","config":{"a":${nested(100_000)}}}`;
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      rawBody,
    });
    expect(res).toMatchObject(tooDeep);
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    expect(list.body.items.map((c: { name: string }) => c.name)).not.toContain('deep');
  });

  it('refuses deep objects and arrays on every JSON endpoint, public ones too', async () => {
    const deepObject = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);
    for (const [path, token] of [
      ['/api/v1/auth/login', null],
      ['/api/v1/setup', null],
      [`/api/v1/organizations/${t.organizationId}/projects`, undefined],
    ] as const) {
      for (const rawBody of [deepObject, nested(50_000)]) {
        expect(await t.api('POST', path, { token, rawBody })).toMatchObject(tooDeep);
      }
    }
    expect((await t.api('GET', '/healthz')).status).toBe(200);
  });

  it('counts only structure: brackets inside strings, and bodies at the limit, pass', async () => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/projects`, {
      body: { name: '[{'.repeat(40) + '"[[[' },
    });
    expect(res.status).toBe(201);
    // 32 levels is still a body; it fails on its field, not on its depth.
    const atLimit = await t.api('POST', `/api/v1/organizations/${t.organizationId}/projects`, {
      rawBody: `{"name":${nested(31)}}`,
    });
    expect(atLimit.status).toBe(400);
    expect(atLimit.body.error.code).toBe('validation_failed');
    const over = await t.api('POST', `/api/v1/organizations/${t.organizationId}/projects`, {
      rawBody: `{"name":${nested(32)}}`,
    });
    expect(over).toMatchObject(tooDeep);
  });
});
