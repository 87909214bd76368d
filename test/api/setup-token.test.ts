import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** First-run setup answers with an API token unless asked not to (the web app asks not to). */
describe('POST /api/v1/setup and its API token', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  const owner = { email: 'owner@example.com', password: 'correct horse', organization_name: 'Acme' };
  const signedIn = (headers: Headers) =>
    headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');

  it('creates a token named "setup" by default, as API.md says', async () => {
    t = await startTestServer('sqlite', { setup: false });
    const res = await t.api('POST', '/api/v1/setup', { token: null, body: owner });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^lnt_/);
    const tokens = await t.api('GET', '/api/v1/tokens', { token: res.body.token });
    expect(tokens.body.items.map((k: { name: string }) => k.name)).toEqual(['setup']);
  });

  it('creates none with create_token false, and signs in all the same', async () => {
    t = await startTestServer('sqlite', { setup: false });
    const res = await t.api('POST', '/api/v1/setup', {
      token: null,
      body: { ...owner, create_token: false },
    });
    expect(res.status).toBe(201);
    expect(res.body.token).toBeNull();
    const tokens = await t.api('GET', '/api/v1/tokens', {
      token: null,
      headers: { cookie: signedIn(res.headers) },
    });
    expect(tokens.status).toBe(200);
    expect(tokens.body.items).toEqual([]);
  });

  it('says what is wrong with a create_token that is not true or false', async () => {
    t = await startTestServer('sqlite', { setup: false });
    const res = await t.api('POST', '/api/v1/setup', { token: null, body: { ...owner, create_token: 'no' } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('create_token');
  });
});
