import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer, runCalls } from '../helpers/server.js';
import { eventually } from '../helpers/receiver.js';
import { startSmtpPeer, type SmtpPeer, type SmtpPeerOptions } from '../helpers/smtp.js';

const PUBLIC_URL = 'https://loadnotify.example.com/base';
const PASSWORD = 'pw-Very-Secret-1';
const TEST_NAME = 'Checkout <b>& co';

describe.each(DIALECTS)('e-mail channels end to end (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  const peers: SmtpPeer[] = [];
  const peer = async (options?: SmtpPeerOptions) => {
    const p = await startSmtpPeer(options);
    peers.push(p);
    return p;
  };
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: {
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        LOADNOTIFY_RETRY_SCALE: '0.01',
        PUBLIC_URL,
        // The local SMTP peers speak no TLS: their logins need the operator's loopback exception.
        LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK: '1',
      },
    });
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: TEST_NAME }));
  });
  afterEach(async () => {
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await Promise.all(peers.splice(0).map((p) => p.close()));
  });
  afterAll(() => t.close());

  const config = (p: SmtpPeer, extra: Record<string, unknown> = {}) => ({
    host: '127.0.0.1',
    port: p.port,
    security: 'none',
    from: 'loadnotify@example.com',
    to: ['ops@example.com', 'qa@example.com'],
    ...extra,
  });
  const create = (body: Record<string, unknown>) =>
    t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'email', name: 'Ops mail', ...body },
    });
  const channel = async (cfg: Record<string, unknown>) => {
    const res = await create({ config: cfg });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const { run, move, testHook, settled } = runCalls(
    () => t,
    () => loadTestId,
  );

  it('mails a run’s start and end, escaped, threaded, logged in with the write-only password', async () => {
    const p = await peer({ auth: { user: 'bot', pass: PASSWORD } });
    const c = await channel(config(p, { username: 'bot', password: PASSWORD }));
    expect(c.url).toBe(`smtp://127.0.0.1:${p.port}`);
    expect(c.secrets_set).toEqual(['password']);
    expect(c.config).toEqual(config(p, { username: 'bot' }));

    const x = await run();
    await move(x.id, { status: 'running' });
    await move(x.id, { status: 'finished', result: 'failed' });
    const [start, end] = await p.waitFor(2);

    for (const m of [start!, end!]) {
      expect(m.user).toBe('bot');
      expect(m.envelope).toEqual({
        from: 'loadnotify@example.com',
        to: ['ops@example.com', 'qa@example.com'],
      });
      expect(m.parsed.from?.text).toBe('loadnotify@example.com');
      expect(m.parsed.to && !Array.isArray(m.parsed.to) && m.parsed.to.value.map((a) => a.address)).toEqual([
        'ops@example.com',
        'qa@example.com',
      ]);
      expect(m.parsed.headers.get('auto-submitted')).toBe('auto-generated');
      // Both parts; the test name is plain in the text and escaped in the HTML.
      expect(m.parsed.text).toContain(TEST_NAME);
      expect(m.parsed.text).toContain(`${PUBLIC_URL}/runs/${x.id}`);
      expect(m.parsed.html).toBeTruthy();
      const html = m.parsed.html as string;
      expect(html).toContain('Checkout &lt;b&gt;&amp; co');
      expect(html).not.toContain('<b>&');
      expect(html).toContain(`href="${PUBLIC_URL}/runs/${x.id}"`);
    }
    expect(start!.parsed.subject).toBe(`[STARTED] ${TEST_NAME} — run #${x.id}`);
    expect(end!.parsed.subject).toBe(`[FAILED] ${TEST_NAME} — run #${x.id}`);
    expect(end!.parsed.text).toContain('Project:');
    expect(end!.parsed.text).toContain('Shop');
    // The finished mail threads under the started one.
    expect(start!.parsed.messageId).toMatch(
      new RegExp(`^<loadnotify\\.run-${x.id}\\.channel-${c.id}\\.started@`),
    );
    expect(start!.parsed.inReplyTo).toBeUndefined();
    expect(end!.parsed.inReplyTo).toBe(start!.parsed.messageId);
    expect(end!.parsed.references).toBe(start!.parsed.messageId);
    expect(end!.parsed.messageId).not.toBe(start!.parsed.messageId);

    const deliveries = await eventually(async () => {
      const l = await t.api('GET', `/api/v1/notification-channels/${c.id}/deliveries`);
      return l.body.items.length === 2 && l.body.items.every((d: any) => d.state === 'delivered')
        ? l.body.items
        : undefined;
    });
    const detail = await t.api('GET', `/api/v1/deliveries/${deliveries[0].id}`);
    const [attempt] = detail.body.attempts;
    expect(attempt.response_status).toBe(250);
    expect(attempt.request_url).toBe(`smtp://127.0.0.1:${p.port}`);
    // The attempt log shows the mail as sent: its header fields and its plain-text part.
    expect(attempt.request_headers).toMatchObject({
      From: 'loadnotify@example.com',
      To: 'ops@example.com, qa@example.com',
      'Auto-Submitted': 'auto-generated',
    });
    expect(attempt.request_headers.Subject).toMatch(/^\[(STARTED|FAILED)\] /);
    expect(attempt.request_body).toContain(TEST_NAME);
    // The password never appears in what the API answers.
    const shown = JSON.stringify([
      c,
      detail.body,
      deliveries,
      (await t.api('GET', `/api/v1/notification-channels/${c.id}`)).body,
      (await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`)).body,
    ]);
    expect(shown).not.toContain(PASSWORD);
  });

  it('retries a 451 and then delivers', async () => {
    const p = await peer({
      answer: (n) => (n === 1 ? { code: 451, message: 'Greylisted, come back later' } : 'accept'),
    });
    const c = await channel(config(p));
    const hook = await testHook(c.id);
    expect(hook.body).toMatchObject({
      outcome: 'failed',
      attempt: { response_status: 451, outcome: 'retry' },
    });
    expect(hook.body.reason).toContain('Greylisted');
    const d = await settled(hook.body.delivery.id);
    expect(d.state).toBe('delivered');
    expect(d.attempts.map((a: any) => [a.response_status, a.outcome])).toEqual([
      [451, 'retry'],
      [250, 'delivered'],
    ]);
    const [m] = await p.waitFor(1);
    expect(m!.parsed.subject).toBe('[TEST] loadnotify test notification — Ops mail');
  });

  it('gives up at once on a 550, with the server’s reason in the delivery', async () => {
    const p = await peer({ answer: () => ({ code: 550, message: 'Mailbox unavailable' }) });
    const c = await channel(config(p));
    const hook = await testHook(c.id);
    expect(hook.body).toMatchObject({
      outcome: 'failed',
      attempt: { response_status: 550, outcome: 'permanent' },
    });
    const d = await settled(hook.body.delivery.id);
    expect(d.state).toBe('failed');
    expect(d.last_error).toContain('SMTP 550');
    expect(d.last_error).toContain('Mailbox unavailable');
    expect(d.attempts).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(p.dataCount).toBe(1);
  });

  it('gives up at once on a wrong password (535), saying which settings to check', async () => {
    const p = await peer({ auth: { user: 'bot', pass: PASSWORD } });
    const c = await channel(config(p, { username: 'bot', password: 'not-the-password' }));
    const hook = await testHook(c.id);
    expect(hook.body).toMatchObject({
      outcome: 'failed',
      attempt: { response_status: 535, outcome: 'permanent' },
    });
    expect(hook.body.reason).toContain('config.password');
    const d = await settled(hook.body.delivery.id);
    expect(d.state).toBe('failed');
    expect(d.attempts).toHaveLength(1);
    expect(p.mails).toHaveLength(0);
    expect(JSON.stringify([hook.body, d])).not.toContain('not-the-password');
  });

  it('changes the password by PATCH without ever showing it, and keeps it when left out', async () => {
    const p = await peer({ auth: { user: 'bot', pass: PASSWORD } });
    const c = await channel(config(p, { username: 'bot', password: 'old-password' }));
    const patched = await t.api('PATCH', `/api/v1/notification-channels/${c.id}`, {
      body: { config: { password: PASSWORD } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.secrets_set).toEqual(['password']);
    expect(JSON.stringify(patched.body)).not.toContain(PASSWORD);
    const renamed = await t.api('PATCH', `/api/v1/notification-channels/${c.id}`, {
      body: { name: 'Renamed' },
    });
    expect(renamed.body.secrets_set).toEqual(['password']);
    expect((await testHook(c.id)).body.outcome).toBe('delivered');
  });

  it('refuses at connect time an address the egress policy forbids, permanently, dialling nothing', async () => {
    // A channel saved while the operator allowed more: its server is now 127.0.0.2, which the
    // allow-list (127.0.0.1) no longer covers. A listener there proves nothing arrives.
    const forbidden = await peer({ host: '127.0.0.2' });
    const c = await channel(config(forbidden));
    const url = `smtp://127.0.0.2:${forbidden.port}`;
    await t.server.ctx.db.kysely
      .updateTable('notification_channels')
      .set({ url_sealed: t.server.ctx.box.seal(url) })
      .where('id', '=', c.id)
      .execute();
    const hook = await testHook(c.id);
    expect(hook.body).toMatchObject({
      outcome: 'failed',
      attempt: { number: 1, response_status: null, outcome: 'permanent' },
    });
    expect(hook.body.reason).toContain('127.0.0.2 is a loopback address');
    expect(hook.body.reason).toContain('LOADNOTIFY_EGRESS_ALLOW');
    const d = await settled(hook.body.delivery.id);
    expect(d.state).toBe('failed');
    expect(d.attempts).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(forbidden.connections).toBe(0);
    expect(forbidden.mails).toHaveLength(0);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a bad recipient', { to: ['ops@example.com', 'nope'] }, 'config.to'],
    ['no recipient', { to: [] }, 'config.to'],
    ['a bad sender', { from: 'loadnotify' }, 'config.from'],
    ['an unknown security', { security: 'ssl' }, 'config.security'],
    ['a port out of range', { port: 70000 }, 'config.port'],
    ['a password without a username', { password: 'x' }, 'config.username'],
    ['a host with a space', { host: 'mail example' }, 'config.host'],
    ['a host that carries a path', { host: 'mail.example.com/x' }, 'config.host'],
    ['a host that carries a user', { host: 'user@127.0.0.1' }, 'config.host'],
    ['a host that carries a port', { host: 'mail.example.com:25' }, 'config.host'],
  ])('refuses %s with 400 naming the field, writing nothing', async (_what, extra, field) => {
    const res = await create({ config: { ...config({ port: 2525 } as SmtpPeer), ...extra } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(field);
    expect(res.body.error.message).toContain(field);
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    expect(list.body.items).toHaveLength(0);
  });

  it('refuses a url (the address comes from the settings) and a loopback host the egress policy forbids', async () => {
    const withUrl = await create({ url: 'smtp://127.0.0.1:25', config: config({ port: 25 } as SmtpPeer) });
    expect(withUrl.status).toBe(400);
    expect(JSON.stringify(withUrl.body)).toContain('url');
    const forbidden = await create({ config: config({ port: 25 } as SmtpPeer, { host: '127.0.0.2' }) });
    expect(forbidden.status).toBe(400);
    expect(forbidden.body.error.message).toContain('LOADNOTIFY_EGRESS_ALLOW');
  });
});
