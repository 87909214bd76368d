/**
 * Issue #17, hole 3: an admin sees only `secrets_set`, yet pointing a channel somewhere else
 * and pressing Test Hook used to carry the saved SMTP login or PagerDuty routing key there.
 * A changed destination now needs its secrets given again (or removed) in the same request.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { startReceiver, type Answer, type Receiver } from '../helpers/receiver.js';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startSmtpPeer, type SmtpPeer, type SmtpPeerOptions } from '../helpers/smtp.js';

const PASSWORD = 'pw-Very-Secret-1';
const KEY = 'e93facc04764012d7bfb002500d5d1a6';
const NEW_KEY = '0123456789abcdef0123456789ABCDEF';
const accepted: Answer = { status: 202, body: '{"status":"success"}' };

describe.each(DIALECTS)('secrets follow the destination (%s)', (dialect) => {
  let t: TestServer;
  let projectId: number;
  const peers: SmtpPeer[] = [];
  const receivers: Receiver[] = [];
  const peer = async (options?: SmtpPeerOptions) => {
    const p = await startSmtpPeer(options);
    peers.push(p);
    return p;
  };
  const receiver = async (answer: () => Answer = () => ({ status: 204 })) => {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  };
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      // The local SMTP peers speak no TLS: logging in over plain text needs the operator's flag.
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1,::1', LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK: '1' },
    });
    ({ projectId } = await seedLoadTest(t));
  });
  afterEach(async () => {
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await Promise.all([...peers.splice(0), ...receivers.splice(0)].map((x) => x.close()));
  });
  afterAll(() => t.close());

  const create = async (body: Record<string, unknown>) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { name: 'channel', ...body },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const patch = (id: number, body: unknown) =>
    t.api('PATCH', `/api/v1/notification-channels/${id}`, { body });
  const testHook = (id: number) => t.api('POST', `/api/v1/notification-channels/${id}/test`);
  const row = (id: number) =>
    t.server.ctx.db.kysely
      .selectFrom('notification_channels')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  const fields = (res: { body: any }) => (res.body.error.details as { field: string }[]).map((d) => d.field);
  const mailTo = (p: SmtpPeer, extra: Record<string, unknown> = {}) => ({
    host: '127.0.0.1',
    port: p.port,
    security: 'none',
    from: 'loadnotify@example.com',
    to: ['ops@example.com'],
    ...extra,
  });

  it('(a) a new SMTP server needs the login again: 400 naming both, nothing written, nothing sent there', async () => {
    const ours = await peer({ auth: { user: 'bot', pass: PASSWORD } });
    // The attacker's server; it takes exactly our login, so a leak would show as a mail here.
    const theirs = await peer({ auth: { user: 'bot', pass: PASSWORD } });
    const c = await create({ type: 'email', config: mailTo(ours, { username: 'bot', password: PASSWORD }) });
    const before = await row(c.id);

    for (const change of [{ port: theirs.port }, { host: '::1' }, { security: 'tls' }]) {
      const res = await patch(c.id, { name: 'moved', config: change });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe('secrets_required');
      expect(fields(res)).toEqual(['config.username', 'config.password']);
      expect(res.body.error.message).toContain('config.username');
      expect(res.body.error.message).toContain('config.password');
    }
    // Giving one of the two is not enough either.
    const half = await patch(c.id, { config: { port: theirs.port, username: 'bot' } });
    expect(half.status).toBe(400);
    expect(fields(half)).toEqual(['config.password']);
    expect(await row(c.id)).toEqual(before);

    const hook = await testHook(c.id);
    expect(hook.body.outcome, JSON.stringify(hook.body)).toBe('delivered');
    expect((await ours.waitFor(1))[0]!.user).toBe('bot');
    await new Promise((r) => setTimeout(r, 200));
    expect(theirs.connections).toBe(0);

    // The person who knows the new server's login gives it with the move: that works.
    const other = await peer({ auth: { user: 'bot2', pass: 'other-password' } });
    const moved = await patch(c.id, {
      config: { port: other.port, username: 'bot2', password: 'other-password' },
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.secrets_set).toEqual(['password']);
    expect((await testHook(c.id)).body.outcome).toBe('delivered');
    expect((await other.waitFor(1))[0]!.user).toBe('bot2');

    // Or removes it, for a server without a login.
    const open = await peer();
    const cleared = await patch(c.id, { config: { port: open.port, username: null, password: null } });
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200);
    expect(cleared.body.secrets_set).toEqual([]);
    expect(cleared.body.config.username).toBeUndefined();
    expect((await testHook(c.id)).body.outcome).toBe('delivered');
    expect((await open.waitFor(1))[0]!.user).toBeNull();
  });

  it('(b) a new PagerDuty URL needs the routing key again; the new receiver never sees the saved one', async () => {
    const ours = await receiver(() => accepted);
    const theirs = await receiver(() => accepted);
    const c = await create({ type: 'pagerduty', url: ours.url('/v2/enqueue'), config: { routing_key: KEY } });
    const before = await row(c.id);

    const res = await patch(c.id, { url: theirs.url('/v2/enqueue') });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('secrets_required');
    expect(fields(res)).toEqual(['config.routing_key']);
    expect(res.body.error.message).toContain('config.routing_key');
    expect(await row(c.id)).toEqual(before);

    // The preview of the unsaved move may not render the saved key for the new URL either.
    const preview = await t.api(
      'POST',
      `/api/v1/organizations/${t.organizationId}/notification-channels/preview`,
      {
        body: { channel_id: c.id, url: theirs.url('/v2/enqueue'), event: 'test.notification_channel' },
      },
    );
    expect(preview.status, JSON.stringify(preview.body)).toBe(400);
    expect(fields(preview)).toEqual(['config.routing_key']);

    expect((await testHook(c.id)).body.outcome).toBe('delivered');
    expect(JSON.parse((await ours.waitFor(1))[0]!.body).routing_key).toBe(KEY);
    expect(theirs.connections).toBe(0);

    const moved = await patch(c.id, { url: theirs.url('/v2/enqueue'), config: { routing_key: NEW_KEY } });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect((await testHook(c.id)).body.outcome).toBe('delivered');
    const [got] = await theirs.waitFor(1);
    expect(JSON.parse(got!.body).routing_key).toBe(NEW_KEY);
    expect(JSON.stringify(theirs.requests)).not.toContain(KEY);
  });

  it('(c) a new webhook URL keeps the signing secret, which the new receiver can verify but never sees', async () => {
    const ours = await receiver();
    const theirs = await receiver();
    const c = await create({ type: 'webhook', url: ours.url('/hook') });
    const secret = c.signing_secret as string;
    expect(secret).toMatch(/^whsec_/);

    // Nothing to give again: the secret signs, it is never sent, and an HMAC does not reveal it.
    const moved = await patch(c.id, { url: theirs.url('/in?token=AB') });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.signing).toEqual(c.signing);
    // The new URL's short token is not shown, not even in part.
    expect(moved.body.url).toBe(`http://127.0.0.1:${theirs.port}/****`);

    expect((await testHook(c.id)).body.outcome).toBe('delivered');
    const [got] = await theirs.waitFor(1);
    expect(got!.url).toBe('/in?token=AB');
    expect(() => new Webhook(secret).verify(got!.body, got!.headers as Record<string, string>)).not.toThrow();
    const key = secret.slice('whsec_'.length);
    expect(JSON.stringify(got)).not.toContain(key);
    expect(ours.requests).toHaveLength(0);
  });

  it('(d) a change that keeps the destination keeps every secret', async () => {
    const p = await peer({ auth: { user: 'bot', pass: PASSWORD } });
    const mail = await create({ type: 'email', config: mailTo(p, { username: 'bot', password: PASSWORD }) });
    const r = await receiver(() => accepted);
    const pd = await create({ type: 'pagerduty', url: r.url('/v2/enqueue'), config: { routing_key: KEY } });

    const mailChanges: unknown[] = [
      { name: 'renamed' },
      { project_ids: [projectId], events: { 'test.finished': { results: ['failed'] } } },
      { enabled: false },
      { enabled: true, status_scheme: 'loadimpact-v3' },
      // The web form sends the whole config back: the same server is no move.
      { config: mailTo(p, { username: 'bot', to: ['qa@example.com'], from: 'ln@example.com' }) },
      { config: { host: '127.0.0.1', port: p.port, security: 'none' } },
    ];
    for (const body of mailChanges) {
      const res = await patch(mail.id, body);
      expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(200);
      expect(res.body.secrets_set).toEqual(['password']);
      expect(res.body.config.username).toBe('bot');
    }
    for (const body of [
      { name: 'renamed' },
      { url: r.url('/v2/enqueue'), config: { severity: 'critical' } },
    ]) {
      const res = await patch(pd.id, body);
      expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(200);
      expect(res.body.secrets_set).toEqual(['routing_key']);
    }

    expect((await testHook(mail.id)).body.outcome).toBe('delivered');
    const [m] = await p.waitFor(1);
    expect(m!.user).toBe('bot');
    expect(m!.envelope.to).toEqual(['qa@example.com']);
    expect((await testHook(pd.id)).body.outcome).toBe('delivered');
    const [sent] = await r.waitFor(1);
    expect(JSON.parse(sent!.body).routing_key).toBe(KEY);
  });
});
