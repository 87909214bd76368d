/**
 * The Test Hook is k6 Cloud's "Send test event": a templated channel's template is filled with
 * mock values in every field of the k6 Cloud context, sent through the real delivery path to a
 * real receiver (HTTP, SMTP).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STARTERS } from '../../src/channels/starters.js';
import { DIALECTS } from '../helpers/db.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.js';

const starter = (id: string) => STARTERS.find((s) => s.id === id)!.config;

describe.each(DIALECTS)('Test Hook with mock values (%s)', (dialect) => {
  let t: TestServer;
  let r: Receiver | undefined;
  let p: SmtpPeer | undefined;
  beforeAll(async () => {
    t = await startTestServer(dialect, { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
  });
  afterEach(async () => {
    await r?.close();
    await p?.close();
    r = p = undefined;
  });
  afterAll(() => t.close());

  const create = async (body: Record<string, unknown>) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { name: 'k6 Cloud', ...body },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const testHook = async (id: number) => {
    const res = await t.api('POST', `/api/v1/notification-channels/${id}/test`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.outcome, res.body.reason).toBe('delivered');
    return res.body;
  };

  it('fills every test, user and event field of a Jinja2 webhook template, with errors to loop over', async () => {
    r = await startReceiver();
    for (const engine of ['jinja2', 'liquid']) {
      const c = await create({
        type: 'webhook',
        url: r.url(),
        event_types: ['test.finished.failed', 'test.started.manual'],
        config: { ...starter(`generic-${engine}`), header_style: 'k6cloud' },
      });
      await testHook(c.id);
      const [got] = await r.waitFor(engine === 'jinja2' ? 1 : 2).then((all) => all.slice(-1));
      const body = JSON.parse(got!.body);
      for (const part of ['test', 'user', 'event'] as const)
        for (const [key, value] of Object.entries(body[part]))
          expect(value === null || value === '', `${engine} ${part}.${key} = ${JSON.stringify(value)}`).toBe(
            false,
          );
      expect(body.test).toMatchObject({
        name: 'Checkout',
        result: 1,
        result_text: 'Failed',
        was_scheduled: 0,
      });
      expect(body.event.type).toBe('test.finished.failed');
      expect(body.errors.length).toBeGreaterThanOrEqual(1);
      for (const e of body.errors) expect(e.detail).not.toBe('');
      await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    }
  });

  it('sends a custom e-mail’s Test Hook with the mock run in its subject and HTML, and a text part', async () => {
    p = await startSmtpPeer();
    const c = await create({
      type: 'email',
      config: {
        host: '127.0.0.1',
        port: p.port,
        security: 'none',
        from: 'loadnotify@example.com',
        to: ['owner@example.com'],
        ...starter('email-jinja2'),
      },
    });
    await testHook(c.id);
    const [mail] = await p.waitFor(1);
    // A channel without identifiers: event.type is <any>, so the starter shows the status.
    expect(mail!.parsed.subject).toBe('[Finished] Checkout: Failed');
    expect(mail!.parsed.html).toContain('GET https://shop.example.com/cart: request timeout');
    const text = mail!.parsed.text!.replace(/\s+/g, ' ');
    expect(text).toContain('CHECKOUT: FINISHED');
    expect(text).toContain('STARTED BY owner@example.com');
    expect(text).toContain('ERRORS * ');
    expect(text).toContain('(1000): GET https://shop.example.com/cart: request timeout');
    await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
  });
});
