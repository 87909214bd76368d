import { deliveryChannel, RENDER_CTX } from './channel.fixture.js';
import { describe, expect, it } from 'vitest';
import { CHECKOUT, runSnapshot, storedEvent } from '../core/run-snapshot.fixture.js';
import type { RunSnapshot } from '../core/events.js';
import type { RunResult, RunStatus } from '../core/run-status.js';
import { resolveChannelConfig } from '../http/channel-config.js';
import { AppError } from '../core/errors.js';
import { redactUrl } from '../storage/channels-repo.js';
import type { ReceiverResponse, RenderContext, RenderedMail } from './channel.js';
import { classifySmtp, emailChannel, smtpUrl, startedMessageId } from './email.js';

const run = (over: Partial<RunSnapshot> = {}): RunSnapshot => runSnapshot({ ...CHECKOUT, ...over });
const finished = (over: Partial<RunSnapshot> = {}) => storedEvent({ type: 'test.finished', run: run(over) });
const started = (over: Partial<RunSnapshot> = {}) =>
  storedEvent({
    type: 'test.started',
    run: run({ status: 'running', result: null, ended_at: null, ...over }),
  });
const channel = deliveryChannel({
  type: 'email',
  name: 'Ops mail',
  url: 'smtp://mail.example.com:587',
  config: {
    host: 'mail.example.com',
    port: 587,
    security: 'starttls',
    username: 'bot',
    password: 'hunter2',
    from: 'loadnotify@example.com',
    to: ['ops@example.com', 'qa@example.com'],
  },
});
const ctx: RenderContext = {
  ...RENDER_CTX,
  publicUrl: 'https://loadnotify.example.com/base',
  now: new Date('2026-11-23T10:06:00Z'),
};
const render = (event = finished()) => emailChannel.render(event, channel, ctx) as RenderedMail;

describe('email render', () => {
  it('addresses the mail from the settings, with both parts and the credentials for the sender', () => {
    const mail = render();
    expect(mail).toMatchObject({
      kind: 'mail',
      url: 'smtp://mail.example.com:587',
      envelope: { from: 'loadnotify@example.com', to: ['ops@example.com', 'qa@example.com'] },
      security: 'starttls',
      auth: { user: 'bot', pass: 'hunter2' },
    });
    expect(mail.headers).toMatchObject({
      From: 'loadnotify@example.com',
      To: 'ops@example.com, qa@example.com',
      Subject: '[PASSED] Checkout — run #42',
      Date: 'Mon, 23 Nov 2026 10:06:00 GMT',
      'Auto-Submitted': 'auto-generated',
    });
    // What the attempt log keeps never carries the password.
    expect(JSON.stringify([mail.headers, mail.body])).not.toContain('hunter2');
    expect(mail.body).toContain('Checkout in Shop: run #42 passed after 5m 3s.');
    expect(mail.body).toContain('Project:');
    expect(mail.body).toContain('Started:  2026-11-23T10:00:05Z');
    expect(mail.body).toContain('https://loadnotify.example.com/base/runs/42');
    expect(mail.html).toContain('<a href="https://loadnotify.example.com/base/runs/42">View run #42</a>');
  });

  it.each<[RunStatus, RunResult | null, string]>([
    ['finished', 'passed', '[PASSED]'],
    ['finished', 'failed', '[FAILED]'],
    ['finished', null, '[FINISHED]'],
    ['timed_out', null, '[TIMED OUT]'],
    ['aborted_by_user', null, '[ABORTED]'],
    ['aborted_by_threshold', 'failed', '[ABORTED]'],
    ['aborted_by_system', null, '[ABORTED]'],
  ])('tags a %s/%s run %s', (status, result, tag) => {
    expect(render(finished({ status, result })).headers.Subject).toBe(`${tag} Checkout — run #42`);
  });

  it('tags a start [STARTED] and the Test Hook [TEST]', () => {
    expect(render(started()).headers.Subject).toBe('[STARTED] Checkout — run #42');
    const hook = render(storedEvent({ type: 'test.notification_channel', run: null }));
    expect(hook.headers.Subject).toBe('[TEST] loadnotify test notification — Ops mail');
    expect(hook.headers['Message-ID']).toBe('<loadnotify.test-msg_1@loadnotify.example.com>');
    expect(hook.headers['In-Reply-To']).toBeUndefined();
    expect(hook.body).toContain('this channel works');
  });

  it('threads the finished mail under the started one of the same run and channel', () => {
    const start = render(started());
    const end = render(finished());
    const id = '<loadnotify.run-42.channel-7.started@loadnotify.example.com>';
    expect(start.headers['Message-ID']).toBe(id);
    expect(startedMessageId(42, 7, ctx.publicUrl)).toBe(id);
    expect(start.headers['In-Reply-To']).toBeUndefined();
    expect(end.headers['Message-ID']).toBe('<loadnotify.run-42.channel-7.finished@loadnotify.example.com>');
    expect(end.headers['In-Reply-To']).toBe(id);
    expect(end.headers.References).toBe(id);
    // Stable: a retry or redelivery is the same message, so mailboxes can drop duplicates.
    expect(render(finished()).headers['Message-ID']).toBe(end.headers['Message-ID']);
    expect(render(started({ run_id: 43 })).headers['Message-ID']).not.toBe(id);
  });

  it('escapes every value in the HTML part and keeps the subject on one line', () => {
    const name = `<b>&</b> "q" 'a'\r\nBcc: x@evil.test`;
    const mail = render(finished({ load_test_name: name, project_name: '<i>P</i>' }));
    expect(mail.html).not.toContain('<b>&');
    expect(mail.html).not.toContain('<i>P</i>');
    expect(mail.html).toContain('&lt;b&gt;&amp;&lt;/b&gt; &quot;q&quot; &#39;a&#39;');
    expect(mail.html).toContain('&lt;i&gt;P&lt;/i&gt;');
    expect(mail.headers.Subject).toBe(`[PASSED] <b>&</b> "q" 'a' Bcc: x@evil.test — run #42`);
    expect(Object.values(mail.headers).join('')).not.toMatch(/[\r\n]/);
    // The plain part is plain: the name as typed, on one line.
    expect(mail.body).toContain(`<b>&</b> "q" 'a' Bcc: x@evil.test`);
  });

  it('sends no credentials when no username is set', () => {
    const { username: _u, password: _p, ...rest } = channel.config;
    expect(
      (emailChannel.render(finished(), { ...channel, config: rest }, ctx) as RenderedMail).auth,
    ).toBeNull();
  });
});

describe('email settings', () => {
  const valid = { host: 'mail.example.com', from: 'a@example.com', to: ['b@example.com'] };
  const problem = (input: Record<string, unknown>) => {
    try {
      resolveChannelConfig(emailChannel, input);
    } catch (err) {
      if (err instanceof AppError) return (err.details as { field: string }[])[0]!.field;
      throw err;
    }
    return null;
  };

  it('fills port 587 and STARTTLS, and keeps the password secret', () => {
    expect(resolveChannelConfig(emailChannel, { ...valid, username: 'u', password: 'p' })).toEqual({
      config: { ...valid, port: 587, security: 'starttls', username: 'u' },
      secrets: { password: 'p' },
    });
  });

  it.each<[Record<string, unknown>, string]>([
    [{ ...valid, host: 'bad host' }, 'config.host'],
    [{ ...valid, host: '1.2.3' }, 'config.host'],
    [{ ...valid, port: 0 }, 'config.port'],
    [{ ...valid, security: 'ssl' }, 'config.security'],
    [{ ...valid, from: 'nobody' }, 'config.from'],
    [{ ...valid, from: 'Me <a@example.com>' }, 'config.from'],
    [{ ...valid, to: [] }, 'config.to'],
    [{ ...valid, to: ['ok@example.com', 'not an address'] }, 'config.to'],
    [{ ...valid, to: Array.from({ length: 51 }, (_, i) => `u${i}@example.com`) }, 'config.to'],
    [{ ...valid, password: 'p' }, 'config.username'],
    [{ ...valid, username: 'u' }, 'config.password'],
    [{ ...valid, tls: true }, 'config.tls'],
  ])('refuses %j naming %s', (input, field) => {
    expect(problem(input)).toBe(field);
  });

  it('refuses a login without TLS, unless the operator allows it to a loopback server', () => {
    const login = { ...valid, security: 'none', username: 'u', password: 'p' };
    const policy = { smtpPlaintextAuthLoopback: true };
    const allowed = (host: string) => {
      try {
        resolveChannelConfig(emailChannel, { ...login, host }, {}, { status_scheme: 'k6', policy });
        return true;
      } catch (err) {
        expect((err as AppError).details).toEqual([expect.objectContaining({ field: 'config.security' })]);
        return false;
      }
    };
    expect(problem(login)).toBe('config.security');
    expect(problem({ ...login, host: '127.0.0.1' })).toBe('config.security');
    expect(problem({ ...valid, security: 'none' })).toBeNull();
    for (const host of [
      '127.0.0.1',
      '127.9.9.9',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      'localhost',
      'LOCALHOST.',
    ])
      expect(allowed(host), host).toBe(true);
    for (const host of ['mail.example.com', '10.0.0.5', '::2', 'localhost.example.com', '128.0.0.1'])
      expect(allowed(host), host).toBe(false);
  });

  it('declares where it sends and which settings log in there', () => {
    expect(emailChannel.config?.destination).toEqual(['host', 'port', 'security']);
    expect(emailChannel.config?.credentials).toEqual(['username', 'password']);
  });

  it('accepts IP literals and 50 recipients', () => {
    for (const host of ['10.0.0.5', '::1', '[2001:db8::1]']) expect(problem({ ...valid, host })).toBeNull();
    expect(problem({ ...valid, to: Array.from({ length: 50 }, (_, i) => `u${i}@example.com`) })).toBeNull();
  });

  it('derives the address from host, port and security', () => {
    expect(smtpUrl({ host: 'mail.example.com', port: 587, security: 'starttls' })).toBe(
      'smtp://mail.example.com:587',
    );
    expect(smtpUrl({ host: 'mail.example.com', port: 465, security: 'tls' })).toBe(
      'smtps://mail.example.com:465',
    );
    expect(smtpUrl({ host: '2001:db8::1', port: 25, security: 'none' })).toBe('smtp://[2001:db8::1]:25');
    expect(emailChannel.checkUrl(new URL('smtp://h:25'))).toBeNull();
    // Nothing to hide in a server address: shown whole.
    expect(redactUrl('smtps://mail.example.com:465')).toBe('smtps://mail.example.com:465');
    expect(redactUrl('smtp://u:p@mail.example.com:25')).not.toContain('u:p');
    expect(emailChannel.checkUrl(new URL('https://h/'))).toContain('smtp://');
  });
});

describe('email classify', () => {
  const reply = (status: number, body: string): ReceiverResponse => ({ status, headers: {}, body });

  it.each<[number, string, string]>([
    [250, '250 2.0.0 Ok: queued', 'delivered'],
    [451, '451 4.7.1 Greylisted, try again', 'retry'],
    [421, '421 Service not available', 'retry'],
    [452, '452 Mailbox full', 'retry'],
    [550, '550 5.1.1 No such user', 'permanent'],
    [554, '554 Transaction failed', 'permanent'],
    [535, '535 5.7.8 Authentication credentials invalid', 'permanent'],
  ])('%i is %s', (status, body, kind) => {
    expect(classifySmtp(reply(status, body)).kind).toBe(kind);
  });

  it('says what to change when the server refuses STARTTLS', () => {
    expect(classifySmtp(reply(500, '500 Error: command not recognized (in reply to STARTTLS)'))).toEqual({
      kind: 'permanent',
      reason:
        "SMTP 500: Error: command not recognized (in reply to STARTTLS) (the server does not offer STARTTLS: set config.security to 'tls' or 'none')",
    });
  });

  it('gives the code once and the server’s words as the reason; a failed login says what to fix', () => {
    expect(classifySmtp(reply(550, '550 5.1.1 No such user'))).toEqual({
      kind: 'permanent',
      reason: 'SMTP 550: 5.1.1 No such user',
    });
    expect(classifySmtp(reply(535, '535 5.7.8 Authentication credentials invalid'))).toEqual({
      kind: 'permanent',
      reason:
        'SMTP 535: 5.7.8 Authentication credentials invalid (authentication failed: check config.username and config.password)',
    });
  });
});
