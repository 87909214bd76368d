/**
 * Issue #22, operators hear when notifications fail: a channel disabled, or deliveries that
 * failed for good, are told to the organization's owners and admins (an e-mail through the
 * system mailer, a real SMTP server here), on its operations channel, and on the banner
 * (GET .../alerts) until dismissed. Members hear nothing, other organizations see nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { eventually, startReceiver, type Answer, type Receiver } from '../helpers/receiver.js';
import { addMember, runCalls, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.js';

const PUBLIC = 'https://notify.example.com';
/** Shortened for the test: a failure waits 1.5 s for a disabling to follow, then mails at most every 4 s. */
const TIMING = { graceMs: 1500, windowMs: 4000 };

describe.each(DIALECTS)('operator alerts (%s)', (dialect) => {
  let t: TestServer;
  let smtp: SmtpPeer;
  let loadTestId: number;
  let admin: string;
  let member: string;
  let stranger: string;
  let otherOrg: number;
  let otherChannel: number;
  const receivers: Receiver[] = [];
  const calls = runCalls(
    () => t,
    () => loadTestId,
  );

  beforeAll(async () => {
    smtp = await startSmtpPeer();
    t = await startTestServer(dialect, {
      env: {
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        LOADNOTIFY_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        LOADNOTIFY_SMTP_FROM: 'loadnotify@example.com',
        PUBLIC_URL: PUBLIC,
        // Retries of a day in about a second, so a delivery can run out of them here.
        LOADNOTIFY_RETRY_SCALE: '0.00001',
      },
      configOverride: { alertTiming: TIMING },
    });
    ({ loadTestId } = await seedLoadTest(t));
    admin = (await addMember(t, 'admin@example.com', 'admin')).token;
    member = (await addMember(t, 'member@example.com', 'member')).token;
    const other = await t.api('POST', '/api/v1/organizations', { body: { name: 'Other' } });
    otherOrg = other.body.id;
    stranger = (await addMember(t, 'stranger@example.com', 'owner', otherOrg)).token;
    const r = await startReceiver(() => ({ status: 204 }));
    receivers.push(r);
    const made = await t.api('POST', `/api/v1/organizations/${otherOrg}/notification-channels`, {
      token: stranger,
      body: { type: 'webhook', name: 'theirs', url: r.url('/hook') },
    });
    otherChannel = made.body.id;
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await t?.close();
    await smtp?.close();
  });

  /** Operator alert mails (not the invitations the setup sent). */
  const alertMails = () => smtp.mails.filter((m) => m.parsed.subject?.startsWith('[loadnotify]'));
  const mailsAbout = (name: string) => alertMails().filter((m) => m.parsed.subject!.includes(`"${name}"`));
  const hook = async (name: string, answer: (n: number) => Answer) => {
    const r = await startReceiver(answer);
    receivers.push(r);
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name, url: r.url(`/${name}`) },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { r, id: res.body.id as number };
  };
  /** A run from start to end: each channel gets test.started, then test.finished. */
  const fullRun = async () => {
    const run = await calls.run();
    expect((await calls.move(run.id, { status: 'running' })).status).toBe(200);
    expect((await calls.move(run.id, { status: 'finished', result: 'failed' })).status).toBe(200);
    return run.id as number;
  };
  const openAlerts = async (token?: string) => {
    const res = await t.api('GET', `/api/v1/organizations/${t.organizationId}/alerts`, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.items as {
      id: number;
      kind: string;
      count: number;
      reason: string;
      channel: { id: number; name: string; url: string };
    }[];
  };
  const channel = async (id: number) => (await t.api('GET', `/api/v1/notification-channels/${id}`)).body;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a channel disabled by 410s: its owners and admins get one e-mail, members none; the banner shows it', async () => {
    const gone = await hook('gone', () => ({ status: 410, body: 'token revoked' }));
    await fullRun();
    await fullRun();
    await eventually(async () => ((await channel(gone.id)).enabled === false ? true : undefined));

    const [mail] = await eventually(async () => {
      const got = mailsAbout('gone');
      return got.length > 0 ? got : undefined;
    });
    // One mail to the organization's owner and admin, nobody else.
    expect([...mail!.envelope.to].sort()).toEqual(['admin@example.com', 'owner@example.com']);
    expect(mail!.parsed.subject).toBe('[loadnotify] Acme: channel "gone" was disabled');
    const text = mail!.parsed.text!;
    expect(text).toContain('Channel: gone (webhook)');
    expect(text).toContain('disabled after 3 deliveries failed in a row; last: HTTP 410');
    expect(text).toContain(`${PUBLIC}/integrations/${gone.id}`);
    expect(mail!.parsed.headers.get('auto-submitted')).toBe('auto-generated');
    // The failures before the disabling, within its grace, are told by that one mail.
    await sleep(TIMING.graceMs + 1000);
    expect(mailsAbout('gone')).toHaveLength(1);
    const told = alertMails().flatMap((m) => m.envelope.to);
    expect(told).not.toContain('member@example.com');
    expect(told).not.toContain('stranger@example.com');

    // The failures that led to it are folded into it: one line, as one mail.
    const banner = (await openAlerts()).filter((a) => a.channel.id === gone.id);
    expect(banner.map((a) => a.kind)).toEqual(['disabled']);
    const disabled = banner[0]!;
    expect(disabled.channel).toEqual({
      id: gone.id,
      name: 'gone',
      type: 'webhook',
      url: `${PUBLIC}/integrations/${gone.id}`,
    });
    expect(disabled.reason).toContain('HTTP 410');
  });

  it('failures that do not disable are mailed at once, then gathered: at most one mail per window, with the count', async () => {
    // Fails every other request: never three in a row, so the channel stays on.
    const flaky = await hook('flaky', (n) => (n % 2 === 1 ? { status: 410 } : { status: 204 }));
    await fullRun(); // 410, 204
    const [first] = await eventually(async () => {
      const got = mailsAbout('flaky');
      return got.length > 0 ? got : undefined;
    });
    expect(first!.parsed.subject).toBe('[loadnotify] Acme: a delivery to channel "flaky" failed');
    expect(first!.parsed.text).toContain('A delivery to it failed for good');
    const firstAt = first!.at;

    await fullRun(); // 410, 204
    await fullRun(); // 410, 204
    await flaky.r.waitFor(6);
    expect((await channel(flaky.id)).enabled).toBe(true);
    // Not before the window since the first mail is over.
    await sleep(1000);
    expect(mailsAbout('flaky')).toHaveLength(1);
    const second = await eventually(async () => mailsAbout('flaky')[1], 10_000);
    expect(second.at - firstAt).toBeGreaterThanOrEqual(TIMING.windowMs - 500);
    expect(second.parsed.subject).toBe('[loadnotify] Acme: 2 deliveries to channel "flaky" failed');
    expect(second.parsed.text).toContain('2 deliveries to it failed for good');
    const counts = (await openAlerts()).filter((a) => a.channel.id === flaky.id).map((a) => a.count);
    expect(counts).toEqual([2, 1]);
    expect((await t.api('DELETE', `/api/v1/notification-channels/${flaky.id}`)).status).toBe(204);
  });

  it('a delivery that runs out of retries is an alert too', async () => {
    const down = await hook('down', () => ({ status: 503, body: 'maintenance' }));
    const run = await calls.run();
    expect((await calls.move(run.id, { status: 'running' })).status).toBe(200);
    const mail = await eventually(async () => mailsAbout('down')[0], 20_000);
    expect(mail.parsed.subject).toBe('[loadnotify] Acme: a delivery to channel "down" failed');
    expect(mail.parsed.text).toMatch(/Last reason: gave up after 34 attempts; last: HTTP 503/);
    expect((await channel(down.id)).enabled).toBe(true);
    expect((await t.api('DELETE', `/api/v1/notification-channels/${down.id}`)).status).toBe(204);
  });

  it('the operations channel hears every other channel failing, and not its own failures', async () => {
    const ops = await hook('ops', () => ({ status: 204 }));
    const set = await t.api('PATCH', `/api/v1/organizations/${t.organizationId}`, {
      token: admin,
      body: { operations_channel_id: ops.id },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.operations_channel_id).toBe(ops.id);
    expect((await t.api('GET', `/api/v1/organizations/${t.organizationId}`)).body.operations_channel_id).toBe(
      ops.id,
    );
    const before = ops.r.requests.length;
    const dead = await hook('dead', () => ({ status: 410 }));
    await fullRun();
    await fullRun();
    // The run's own events reach ops too (it is an ordinary channel); the alert arrives besides.
    const alertRequest = await eventually(async () =>
      ops.r.requests
        .slice(before)
        .find(
          (r) =>
            r.headers['x-loadimpact-event'] === 'notification_channel.alert' &&
            JSON.parse(r.body).alert.channel.id === dead.id,
        ),
    );
    const body = JSON.parse(alertRequest.body);
    expect(body).toMatchObject({
      event: 'notification_channel.alert',
      alert: {
        kind: 'disabled',
        organization_id: t.organizationId,
        channel: { id: dead.id, name: 'dead', type: 'webhook', url: `${PUBLIC}/integrations/${dead.id}` },
        count: 1,
      },
    });
    expect(body.alert.reason).toContain('HTTP 410');
    expect(alertRequest.headers['content-type']).toContain('application/json');

    // Muted (a maintenance window), it hears no alert; the owners' mail still goes.
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    const muted = await t.api('PATCH', `/api/v1/notification-channels/${ops.id}`, {
      body: { muted_until: inAnHour },
    });
    expect(muted.status).toBe(200);
    const quiet = await hook('quiet', () => ({ status: 410 }));
    await fullRun();
    await fullRun();
    await eventually(async () => mailsAbout('quiet')[0]);
    await sleep(500);
    const aboutQuiet = ops.r.requests.filter(
      (r) =>
        r.headers['x-loadimpact-event'] === 'notification_channel.alert' &&
        JSON.parse(r.body).alert.channel.id === quiet.id,
    );
    expect(aboutQuiet).toEqual([]);

    // The operations channel itself failing (and staying on): its owners hear of it, but not
    // through itself, where it would only fail again.
    const selfOps = await hook('self-ops', (n) => (n % 2 === 1 ? { status: 410 } : { status: 204 }));
    await t.api('PATCH', `/api/v1/organizations/${t.organizationId}`, {
      body: { operations_channel_id: selfOps.id },
    });
    await fullRun();
    const told = await eventually(async () => mailsAbout('self-ops')[0]);
    expect(told.parsed.subject).toContain('a delivery to channel "self-ops" failed');
    await sleep(1000);
    expect((await channel(selfOps.id)).enabled).toBe(true);
    const events = selfOps.r.requests.map((r) => r.headers['x-loadimpact-event']);
    expect(events).toEqual(['test.started', 'test.finished']);

    const cleared = await t.api('PATCH', `/api/v1/organizations/${t.organizationId}`, {
      body: { operations_channel_id: null },
    });
    expect(cleared.body.operations_channel_id).toBeNull();
  });

  it('who may read, dismiss and set the operations channel; other organizations get 404 or 400', async () => {
    const org = t.organizationId;
    // Owners and admins read alerts; members are refused; strangers cannot tell it exists.
    expect((await openAlerts()).length).toBeGreaterThan(0);
    expect((await openAlerts(admin)).length).toBeGreaterThan(0);
    const asMember = await t.api('GET', `/api/v1/organizations/${org}/alerts`, { token: member });
    expect(asMember.status).toBe(403);
    expect((await t.api('GET', `/api/v1/organizations/${org}/alerts`, { token: stranger })).status).toBe(404);
    // The stranger's own organization has none of ours.
    const theirs = await t.api('GET', `/api/v1/organizations/${otherOrg}/alerts`, { token: stranger });
    expect(theirs.status).toBe(200);
    expect(theirs.body.items).toEqual([]);

    const [one, two] = await openAlerts();
    expect((await t.api('POST', `/api/v1/alerts/${one!.id}/dismiss`, { token: member })).status).toBe(403);
    expect((await t.api('POST', `/api/v1/alerts/${one!.id}/dismiss`, { token: stranger })).status).toBe(404);
    expect((await t.api('POST', `/api/v1/alerts/999999/dismiss`)).status).toBe(404);
    const dismissed = await t.api('POST', `/api/v1/alerts/${one!.id}/dismiss`, { token: admin });
    expect(dismissed.status).toBe(200);
    expect(dismissed.body).toEqual({ dismissed: 1 });
    const left = await openAlerts();
    expect(left.map((a) => a.id)).not.toContain(one!.id);
    expect(left.map((a) => a.id)).toContain(two!.id);
    expect(
      (await t.api('POST', `/api/v1/organizations/${org}/alerts/dismiss`, { token: stranger })).status,
    ).toBe(404);
    expect(
      (await t.api('POST', `/api/v1/organizations/${org}/alerts/dismiss`, { token: member })).status,
    ).toBe(403);
    const all = await t.api('POST', `/api/v1/organizations/${org}/alerts/dismiss`);
    expect(all.body.dismissed).toBe(left.length);
    expect(await openAlerts()).toEqual([]);

    const patch = (body: unknown, token?: string, id = org) =>
      t.api('PATCH', `/api/v1/organizations/${id}`, { token, body });
    expect((await patch({ operations_channel_id: null }, member)).status).toBe(403);
    expect((await patch({ operations_channel_id: null }, stranger)).status).toBe(404);
    const foreign = await patch({ operations_channel_id: otherChannel });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.message).toContain('operations_channel_id');
    expect(foreign.body.error.message).toContain('not a notification channel of this organization');
    const bad = await patch({ operations_channel_id: 'ops' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('operations_channel_id');
    // The stranger cannot point their organization at our channel either.
    const ours = (await t.api('GET', `/api/v1/organizations/${org}/notification-channels`)).body.items[0].id;
    expect((await patch({ operations_channel_id: ours }, stranger, otherOrg)).status).toBe(400);
  });

  it('a mail the server refuses is tried again later, and only once delivered', async () => {
    const refusing = await startSmtpPeer({
      answer: (n) => (n === 1 ? { code: 451, message: 'try later' } : 'accept'),
    });
    // A second service on the same store would be another process; a fresh one keeps this short.
    const t2 = await startTestServer(dialect, {
      env: {
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        LOADNOTIFY_SMTP_URL: `smtp://127.0.0.1:${refusing.port}`,
        LOADNOTIFY_SMTP_FROM: 'loadnotify@example.com',
        LOADNOTIFY_RETRY_SCALE: '0.001',
      },
      configOverride: { alertTiming: TIMING },
    });
    try {
      const r = await startReceiver(() => ({ status: 410 }));
      receivers.push(r);
      await t2.api('POST', `/api/v1/organizations/${t2.organizationId}/notification-channels`, {
        body: { type: 'webhook', name: 'gone2', url: r.url('/x') },
      });
      const { loadTestId: lt } = await seedLoadTest(t2);
      for (let i = 0; i < 2; i++) {
        const run = (await t2.api('POST', `/api/v1/load-tests/${lt}/runs`, { body: {} })).body;
        await t2.api('POST', `/api/v1/runs/${run.id}/status`, { body: { status: 'running' } });
        await t2.api('POST', `/api/v1/runs/${run.id}/status`, { body: { status: 'finished' } });
      }
      const [mail] = await refusing.waitFor(1, 15_000);
      expect(refusing.dataCount).toBe(2);
      expect(mail!.parsed.subject).toContain('was disabled');
      await sleep(500);
      expect(refusing.mails).toHaveLength(1);
      const { items } = (await t2.api('GET', `/api/v1/organizations/${t2.organizationId}/alerts`)).body;
      expect(items).toHaveLength(1);
      expect(
        items.find((a: { kind: string }) => a.kind === 'disabled').mailed_at,
        JSON.stringify(items),
      ).not.toBeNull();
    } finally {
      await t2.close();
      await refusing.close();
    }
  });
});
