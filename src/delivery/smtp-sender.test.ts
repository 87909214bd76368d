import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RenderedMail } from '../channels/channel.js';
import { startSmtpPeer, type SmtpPeer } from '../../test/helpers/smtp.js';
import { parseEgressAllow } from './egress-guard.js';
import { SmtpSender } from './smtp-sender.js';

const peers: SmtpPeer[] = [];
const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
const peer = async (...args: Parameters<typeof startSmtpPeer>) => {
  const p = await startSmtpPeer(...args);
  peers.push(p);
  return p;
};

const sender = (allow = '127.0.0.1', totalTimeoutMs = 5000, plaintextAuthLoopback = false) =>
  new SmtpSender({ policy: parseEgressAllow(allow), totalTimeoutMs, plaintextAuthLoopback });

const mail = (url: string, over: Partial<RenderedMail> = {}): RenderedMail => ({
  kind: 'mail',
  url,
  headers: {
    From: 'loadnotify@example.com',
    To: 'ops@example.com, qa@example.com',
    Subject: 'Subject ✓',
    'Message-ID': '<m1@example.com>',
    'Auto-Submitted': 'auto-generated',
  },
  body: 'plain text',
  html: '<p>html</p>',
  envelope: { from: 'loadnotify@example.com', to: ['ops@example.com', 'qa@example.com'] },
  security: 'none',
  auth: null,
  ...over,
});

describe('SmtpSender', () => {
  it('sends the mail and answers with the server’s reply code and text', async () => {
    const p = await peer();
    const outcome = await sender().send(mail(`smtp://127.0.0.1:${p.port}`));
    expect(outcome).toMatchObject({ kind: 'response', status: 250, headers: {} });
    expect(outcome.kind === 'response' && outcome.body).toContain('Ok: queued');
    const [got] = await p.waitFor(1);
    expect(got!.envelope).toEqual({
      from: 'loadnotify@example.com',
      to: ['ops@example.com', 'qa@example.com'],
    });
    expect(got!.parsed.subject).toBe('Subject ✓');
    expect(got!.parsed.messageId).toBe('<m1@example.com>');
    expect(got!.parsed.headers.get('auto-submitted')).toBe('auto-generated');
    expect(got!.parsed.text?.trim()).toBe('plain text');
    expect(got!.parsed.html).toContain('<p>html</p>');
  });

  // The peer speaks no TLS: a login in clear text to loopback, as the operator may allow.
  it('logs in with the credentials, and maps a refused login to its 535 reply', async () => {
    const p = await peer({ auth: { user: 'bot', pass: 's3cret' } });
    const good = await sender('127.0.0.1', 5000, true).send(
      mail(`smtp://127.0.0.1:${p.port}`, { auth: { user: 'bot', pass: 's3cret' } }),
    );
    expect(good).toMatchObject({ kind: 'response', status: 250 });
    expect((await p.waitFor(1))[0]!.user).toBe('bot');
    const bad = await sender('127.0.0.1', 5000, true).send(
      mail(`smtp://127.0.0.1:${p.port}`, { auth: { user: 'bot', pass: 'wrong' } }),
    );
    expect(bad).toMatchObject({ kind: 'response', status: 535 });
    expect(JSON.stringify(bad)).not.toContain('wrong');
  });

  it('maps a DATA rejection to its reply code', async () => {
    const p = await peer({ answer: () => ({ code: 451, message: 'Try again later' }) });
    const outcome = await sender().send(mail(`smtp://127.0.0.1:${p.port}`));
    expect(outcome).toMatchObject({ kind: 'response', status: 451 });
    expect(outcome.kind === 'response' && outcome.body).toContain('Try again later');
  });

  it('names the refused command: STARTTLS required but not offered, a rejected DATA', async () => {
    const p = await peer({ answer: () => ({ code: 550, message: 'Mailbox unavailable' }) });
    const url = `smtp://127.0.0.1:${p.port}`;
    const starttls = await sender().send(mail(url, { security: 'starttls' }));
    expect(starttls).toMatchObject({ kind: 'response', status: 500 });
    expect(starttls.kind === 'response' && starttls.body).toContain('(in reply to STARTTLS)');
    const data = await sender().send(mail(url));
    expect(data).toMatchObject({
      kind: 'response',
      status: 550,
      body: '550 Mailbox unavailable (in reply to DATA)',
    });
  });

  it('reports TLS spoken to a plain-text server as a readable network error', async () => {
    const p = await peer();
    const outcome = await sender().send(mail(`smtps://127.0.0.1:${p.port}`, { security: 'tls' }));
    expect(outcome.kind).toBe('network_error');
    expect(outcome.kind === 'network_error' && outcome.reason).toMatch(
      /^TLS failed: wrong version number \(127\.0\.0\.1:/,
    );
  });

  it('reports a closed port as a network error naming the server', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    const outcome = await sender().send(mail(`smtp://127.0.0.1:${port}`));
    expect(outcome).toMatchObject({ kind: 'network_error' });
    expect(outcome.kind === 'network_error' && outcome.reason).toContain(`127.0.0.1:${port}`);
  });

  it('gives up on a server that never greets within the delivery timeout', async () => {
    const s = net.createServer(() => {});
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    const started = Date.now();
    const outcome = await sender('127.0.0.1', 600).send(mail(`smtp://127.0.0.1:${port}`));
    expect(outcome.kind).toBe('network_error');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  // 127.0.0.1 is allowed; a listener on 127.0.0.2 proves nothing was dialled there.
  it('refuses an address the egress policy forbids, before any connection', async () => {
    const p = await peer({ host: '127.0.0.2' });
    for (const url of [`smtp://127.0.0.2:${p.port}`, `smtp://[::ffff:127.0.0.2]:${p.port}`]) {
      const outcome = await sender('127.0.0.1').send(mail(url));
      expect(outcome).toMatchObject({ kind: 'refused' });
      expect(outcome.kind === 'refused' && outcome.reason).toContain('LOADNOTIFY_EGRESS_ALLOW');
    }
    const viaName = new SmtpSender({
      policy: parseEgressAllow('127.0.0.1'),
      lookup: (_host, options, callback) =>
        options.all
          ? (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [
              { address: '127.0.0.2', family: 4 },
            ])
          : (callback as (e: null, a: string, f: number) => void)(null, '127.0.0.2', 4),
    });
    const rebound = await viaName.send(mail(`smtp://mail.example.test:${p.port}`));
    expect(rebound).toMatchObject({ kind: 'refused' });
    expect(rebound.kind === 'refused' && rebound.reason).toContain('mail.example.test resolved to 127.0.0.2');
    expect(p.connections).toBe(0);
    expect(p.mails).toHaveLength(0);
  });

  it('refuses a login without TLS, unless allowed and to a loopback server, before any connection', async () => {
    const p = await peer({ auth: { user: 'bot', pass: 's3cret' } });
    const login = { auth: { user: 'bot', pass: 's3cret' } };
    const plain = await sender().send(mail(`smtp://127.0.0.1:${p.port}`, login));
    expect(plain).toMatchObject({ kind: 'refused' });
    expect(plain.kind === 'refused' && plain.reason).toContain("config.security is 'none'");
    expect(plain.kind === 'refused' && plain.reason).toContain('LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK');
    // Allowed for loopback only: a name that is not `localhost` is refused whatever it resolves to.
    const toLoopback = (address: string) =>
      new SmtpSender({
        policy: parseEgressAllow('127.0.0.1'),
        plaintextAuthLoopback: true,
        lookup: (_host, options, callback) =>
          options.all
            ? (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [
                { address, family: 4 },
              ])
            : (callback as (e: null, a: string, f: number) => void)(null, address, 4),
      });
    const named = await toLoopback('127.0.0.1').send(mail(`smtp://mail.example.test:${p.port}`, login));
    expect(named).toMatchObject({ kind: 'refused' });
    expect(named.kind === 'refused' && named.reason).toContain('mail.example.test is not a loopback server');
    expect(p.connections).toBe(0);
    const local = await toLoopback('127.0.0.1').send(mail(`smtp://localhost:${p.port}`, login));
    expect(local).toMatchObject({ kind: 'response', status: 250 });
    expect((await p.waitFor(1))[0]!.user).toBe('bot');
  });

  it('refuses what is not an smtp address', async () => {
    expect(await sender().send(mail('https://127.0.0.1/'))).toMatchObject({ kind: 'refused' });
  });
});
