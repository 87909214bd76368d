/**
 * Issue #17, item 10: SMTP AUTH went out in clear text whenever `security` was `none`. A
 * login without TLS is now refused, at save time and again at send time, unless the server
 * is on loopback and the operator allowed that with LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { DIALECTS } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.js';

const PASSWORD = 'pw-Very-Secret-1';
const FLAG = 'LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK';

describe(FLAG, () => {
  const load = (value: string) =>
    loadConfig({ DATA_DIR: '/nonexistent', LOADNOTIFY_SECRET_KEY: 'a'.repeat(64), [FLAG]: value });
  it('is off unless set, and refuses a value it cannot read, naming itself', () => {
    expect(load('').smtpPlaintextAuthLoopback).toBe(false);
    expect(load('0').smtpPlaintextAuthLoopback).toBe(false);
    expect(load('1').smtpPlaintextAuthLoopback).toBe(true);
    expect(load('true').smtpPlaintextAuthLoopback).toBe(true);
    expect(() => load('yes please')).toThrow(ConfigError);
    expect(() => load('yes please')).toThrow(/LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK must be 1 or 0/);
  });
});

describe.each(DIALECTS)('SMTP AUTH needs TLS (%s)', (dialect) => {
  let strict: TestServer;
  let allowing: TestServer;
  const peers: SmtpPeer[] = [];
  const peer = async () => {
    const p = await startSmtpPeer({ auth: { user: 'bot', pass: PASSWORD } });
    peers.push(p);
    return p;
  };
  beforeAll(async () => {
    strict = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1,mail.example.com' },
    });
    allowing = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1,mail.example.com', [FLAG]: '1' },
    });
  });
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await strict?.close();
    await allowing?.close();
  });

  const mail = (port: number, extra: Record<string, unknown> = {}) => ({
    type: 'email',
    name: 'mail',
    config: {
      host: '127.0.0.1',
      port,
      security: 'none',
      username: 'bot',
      password: PASSWORD,
      from: 'loadnotify@example.com',
      to: ['ops@example.com'],
      ...extra,
    },
  });
  const create = (t: TestServer, body: unknown) =>
    t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, { body });
  const count = async (t: TestServer) =>
    (await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`)).body.items.length;

  it('refuses a login over plain text with 400 naming config.security, on create and on PATCH', async () => {
    const before = await count(strict);
    const res = await create(strict, mail(2525));
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.details[0].field).toBe('config.security');
    expect(res.body.error.message).toContain('config.security');
    expect(res.body.error.message).toContain(FLAG);
    expect(await count(strict)).toBe(before);

    // Without a login, or with TLS, the same server is fine.
    const { username: _u, password: _p, ...noLogin } = mail(2525).config;
    expect((await create(strict, { ...mail(2525), config: noLogin })).status).toBe(201);
    const tls = await create(strict, mail(2525, { security: 'starttls' }));
    expect(tls.status).toBe(201);
    const down = await strict.api('PATCH', `/api/v1/notification-channels/${tls.body.id}`, {
      body: { config: { security: 'none', username: 'bot', password: PASSWORD } },
    });
    expect(down.status).toBe(400);
    expect(down.body.error.details[0].field).toBe('config.security');
  });

  it('with the operator’s flag, allows it to a loopback server only', async () => {
    const p = await peer();
    const c = await create(allowing, mail(p.port));
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    const hook = await allowing.api('POST', `/api/v1/notification-channels/${c.body.id}/test`);
    expect(hook.body.outcome, JSON.stringify(hook.body)).toBe('delivered');
    expect((await p.waitFor(1))[0]!.user).toBe('bot');

    const remote = await create(allowing, mail(587, { host: 'mail.example.com' }));
    expect(remote.status).toBe(400);
    expect(remote.body.error.details[0].field).toBe('config.security');
    expect(remote.body.error.message).toContain('loopback');
  });

  it('refuses at send time too: a saved plain-text login fails permanently, dialling nothing', async () => {
    // A channel saved before the rule, as the database holds it.
    const p = await peer();
    const c = await create(strict, mail(p.port, { security: 'starttls' }));
    expect(c.status).toBe(201);
    const row = await strict.server.ctx.db.kysely
      .selectFrom('notification_channels')
      .select('config')
      .where('id', '=', c.body.id)
      .executeTakeFirstOrThrow();
    await strict.server.ctx.db.kysely
      .updateTable('notification_channels')
      .set({ config: JSON.stringify({ ...JSON.parse(row.config), security: 'none' }) })
      .where('id', '=', c.body.id)
      .execute();

    const hook = await strict.api('POST', `/api/v1/notification-channels/${c.body.id}/test`);
    expect(hook.body).toMatchObject({
      outcome: 'failed',
      attempt: { number: 1, response_status: null, outcome: 'permanent' },
    });
    expect(hook.body.reason).toContain('config.security');
    expect(hook.body.reason).toContain('without TLS');
    await new Promise((r) => setTimeout(r, 200));
    expect(p.connections).toBe(0);
    expect(JSON.stringify(hook.body)).not.toContain(PASSWORD);
  });
});
