import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { CHANNEL_TYPES } from '../../src/channels/registry.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('configuration from the environment', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'loadnotify-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = (more: Record<string, string>) => ({ DATA_DIR: dir, ...more });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
    [{ DATABASE_URL: 'postgres://127.0.0.1/test' }, /LOADNOTIFY_SECRET_KEY is required/],
    [{ LOADNOTIFY_SECRET_KEY: 'too-short' }, /LOADNOTIFY_SECRET_KEY must be 32 bytes/],
    [{ PUBLIC_URL: 'not a url' }, /PUBLIC_URL/],
    [{ PUBLIC_URL: 'ftp://example.com' }, /PUBLIC_URL/],
    [{ LOADNOTIFY_ROLE: 'boss' }, /LOADNOTIFY_ROLE/],
    [{ LOADNOTIFY_DELIVERY_TIMEOUT_MS: '-5' }, /LOADNOTIFY_DELIVERY_TIMEOUT_MS/],
    [
      { LOADNOTIFY_LEASE_MS: '5000', LOADNOTIFY_DELIVERY_TIMEOUT_MS: '5000' },
      /LOADNOTIFY_LEASE_MS \(5000\) must be greater/,
    ],
    [{ LOADNOTIFY_MAX_IN_FLIGHT: '0' }, /LOADNOTIFY_MAX_IN_FLIGHT must be a whole number above 0, got "0"/],
    [{ LOADNOTIFY_MAX_IN_FLIGHT: 'lots' }, /LOADNOTIFY_MAX_IN_FLIGHT/],
    [{ LOADNOTIFY_PER_CHANNEL: '2.5' }, /LOADNOTIFY_PER_CHANNEL must be a whole number/],
    [
      { LOADNOTIFY_MAX_IN_FLIGHT: '8', LOADNOTIFY_PER_CHANNEL: '16' },
      /LOADNOTIFY_PER_CHANNEL \(16\) must not be greater than LOADNOTIFY_MAX_IN_FLIGHT \(8\)/,
    ],
  ])('refuses %j with a message naming the variable', (bad, message) => {
    expect(() => loadConfig(env(bad))).toThrow(ConfigError);
    expect(() => loadConfig(env(bad))).toThrow(message);
  });

  it('reads the send bounds, 64 in all and 4 per channel unless told', () => {
    expect(loadConfig(env({}))).toMatchObject({ maxInFlight: 64, perChannel: 4 });
    expect(loadConfig(env({ LOADNOTIFY_MAX_IN_FLIGHT: '200', LOADNOTIFY_PER_CHANNEL: '10' }))).toMatchObject({
      maxInFlight: 200,
      perChannel: 10,
    });
  });

  it('refuses a bad egress allow-list at start, naming the entry', async () => {
    const config = loadConfig(env({ PORT: '0', LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1,10.0.0.0/33' }));
    await expect(startServer(config, { logger: false })).rejects.toThrow(/10\.0\.0\.0\/33/);
  });

  it('generates the secret key once into DATA_DIR and reuses it', () => {
    const first = loadConfig(env({})).secretKey;
    const onDisk = readFileSync(path.join(dir, 'secret.key'), 'utf8').trim();
    expect(Buffer.from(onDisk, 'base64').equals(first)).toBe(true);
    expect(loadConfig(env({})).secretKey.equals(first)).toBe(true);
  });
});

describe('OpenAPI document', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite');
  });
  afterAll(() => t.close());

  it('is served without auth and lists every endpoint of API.md with its request schema', async () => {
    const res = await t.api('GET', '/api/openapi.json', { token: null });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    const expected: [string, string][] = [
      ['/api/v1/setup', 'post'],
      ['/api/v1/auth/login', 'post'],
      ['/api/v1/auth/logout', 'post'],
      ['/api/v1/me', 'get'],
      ['/api/v1/tokens', 'post'],
      ['/api/v1/tokens/{id}', 'delete'],
      ['/api/v1/organizations', 'post'],
      ['/api/v1/organizations/{id}', 'get'],
      ['/api/v1/organizations/{id}/members', 'get'],
      ['/api/v1/organizations/{id}/invitations', 'post'],
      ['/api/v1/invitations/{id}', 'delete'],
      ['/api/v1/invitations/accept', 'post'],
      ['/api/v1/organizations/{id}/members/{user_id}', 'patch'],
      ['/api/v1/organizations/{id}/projects', 'post'],
      ['/api/v1/projects/{id}/load-tests', 'post'],
      ['/api/v1/load-tests/{id}', 'patch'],
      ['/api/v1/load-tests/{id}/runs', 'post'],
      ['/api/v1/runs/{id}', 'get'],
      ['/api/v1/runs/{id}/status', 'post'],
      ['/api/v1/organizations/{id}/notification-channels', 'post'],
      ['/api/v1/notification-channels/{id}', 'patch'],
      ['/api/v1/notification-channels/{id}/test', 'post'],
      ['/api/v1/notification-channels/{id}/deliveries', 'get'],
      ['/api/v1/deliveries/{id}', 'get'],
      ['/api/v1/deliveries/{id}/redeliver', 'post'],
    ];
    for (const [p, method] of expected) expect(paths[p]?.[method], `${method} ${p}`).toBeDefined();
    const status = paths['/api/v1/runs/{id}/status']!.post as any;
    const schema = status.requestBody.content['application/json'].schema;
    expect(schema.required).toContain('status');
    expect(schema.additionalProperties).toBe(false);
  });

  // The web app offers what GET /api/v1/channel-types lists (test/api/channel-types.test.ts).
  it('offers every registered channel type in the API schema', async () => {
    const res = await t.api('GET', '/api/openapi.json', { token: null });
    const create = res.body.paths['/api/v1/organizations/{id}/notification-channels'].post;
    const typeSchema = JSON.stringify(create.requestBody.content['application/json'].schema.properties.type);
    const types = CHANNEL_TYPES.map((c) => c.type);
    expect(types).toEqual(expect.arrayContaining(['msteams', 'discord', 'googlechat', 'mattermost']));
    for (const type of types) expect(typeSchema, type).toContain(`"${type}"`);
  });

  it('answers /healthz and /readyz', async () => {
    expect((await t.api('GET', '/healthz', { token: null })).body).toEqual({ status: 'ok' });
    expect((await t.api('GET', '/readyz', { token: null })).body).toEqual({
      ready: true,
      accepting: true,
      database: true,
    });
  });
});
