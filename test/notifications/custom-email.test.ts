/**
 * k6 Cloud's custom e-mail on the e-mail channel type: a subject template and an HTML
 * template render (in the template workers) into the mail a real SMTP server receives, with a
 * plain-text part made from the HTML.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.js';
import { seedLoadTest, startTestServer, type TestServer, runCalls } from '../helpers/server.js';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.js';
import { STARTERS } from '../../src/channels/starters.js';

const PUBLIC_URL = 'https://loadnotify.example.com';

describe.each(DIALECTS)('custom e-mail templates (%s)', (dialect) => {
  let t: TestServer;
  let loadTestId: number;
  let p: SmtpPeer;
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1', LOADNOTIFY_RETRY_SCALE: '0.01', PUBLIC_URL },
    });
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout <b>' }));
  });
  afterEach(async () => {
    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    for (const c of list.body.items) await t.api('DELETE', `/api/v1/notification-channels/${c.id}`);
    await p?.close();
  });
  afterAll(() => t.close());

  const create = (config: Record<string, unknown>) =>
    t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'email',
        name: 'Custom mail',
        config: {
          host: '127.0.0.1',
          port: p.port,
          security: 'none',
          from: 'loadnotify@example.com',
          to: ['owner@example.com', 'typed@example.com'],
          ...config,
        },
      },
    });
  const { run, move } = runCalls(
    () => t,
    () => loadTestId,
  );

  it('sends the rendered subject and HTML, with a text part made from the HTML', async () => {
    p = await startSmtpPeer();
    const res = await create({
      subject_template: '{{ status_text }}:   {{ name }}\t(run {{ load_test_run_id }})',
      html_template: [
        '<h1>{{ name | escape }}</h1>',
        '<p>Result: {% if result == "failed" %}<b style="color:red">failed</b>{% else %}passed{% endif %}</p>',
        '<p><a href="{{ url }}">Open the run</a></p>',
      ].join('\n'),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.config.subject_template).toContain('{{ status_text }}');

    const x = await run();
    await move(x.id, { status: 'running' });
    await move(x.id, { status: 'finished', result: 'failed' });
    const [, end] = await p.waitFor(2);
    const mail = end!.parsed;
    // One line, whitespace collapsed.
    expect(mail.subject).toBe(`Finished: Checkout <b> (run ${x.id})`);
    expect(mail.html).toContain('<h1>Checkout &lt;b&gt;</h1>');
    expect(mail.html).toContain('<b style="color:red">failed</b>');
    expect(mail.html).toContain(`<a href="${PUBLIC_URL}/runs/${x.id}">Open the run</a>`);
    // The text part is the HTML read as text: headings, the result, the link written out.
    expect(mail.text).toContain('CHECKOUT <B>');
    expect(mail.text).toContain('Result: failed');
    expect(mail.text).toContain(`Open the run [${PUBLIC_URL}/runs/${x.id}]`);
    expect(mail.text).not.toMatch(/<(h1|p|a)\b/);
    expect(end!.envelope.to).toEqual(['owner@example.com', 'typed@example.com']);
  });

  it.each([
    [
      'liquid',
      '{% if test.status_text == "Finished" %}<h1>{{ test.name }}</h1>{% endif %}<p>{{ test.name | escape }}</p><p>{{ "<i>ours</i>" | raw }}</p>',
    ],
    [
      'jinja2',
      '{% macro b(v) %}<b>{{ v }}</b>{% endmacro %}{% if event.type == "<any>" %}<h1>{{ test.name }}</h1>{% endif %}<p>{{ b(test.name) }}</p>',
    ],
  ])('escapes what a %s HTML template puts out, and only that', async (engine, html_template) => {
    // The load test's name ("Checkout <b>") is chosen by any member; the mail goes to others.
    p = await startSmtpPeer();
    const res = await create({ template_engine: engine, html_template });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const x = await run();
    await move(x.id, { status: 'running' });
    await move(x.id, { status: 'finished', result: 'passed' });
    const [, end] = await p.waitFor(2);
    const html = end!.parsed.html as string;
    // Escaped once where the template put the name out; the comparison saw the raw values.
    expect(html).toContain('<h1>Checkout &lt;b&gt;</h1>');
    expect(html).not.toContain('Checkout <b>');
    expect(html).not.toContain('&amp;lt;');
    if (engine === 'liquid') {
      expect(html).toContain('<p>Checkout &lt;b&gt;</p>');
      expect(html).toContain('<p><i>ours</i></p>');
    } else expect(html).toContain('<p><b>Checkout &lt;b&gt;</b></p>');
  });

  it('sends the Jinja2 Email notification starter for a failed run, escaping the test name and the errors', async () => {
    p = await startSmtpPeer();
    const starter = STARTERS.find((st) => st.id === 'email-jinja2')!.config;
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: {
        type: 'email',
        name: 'k6 Cloud mail',
        event_types: ['test.finished.failed'],
        config: {
          host: '127.0.0.1',
          port: p.port,
          security: 'none',
          from: 'loadnotify@example.com',
          to: ['owner@example.com'],
          ...starter,
        },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const passed = await run();
    await move(passed.id, { status: 'running' });
    await move(passed.id, { status: 'finished', result: 'passed' });
    const x = await run();
    await move(x.id, { status: 'running' });
    const ended = await move(x.id, {
      status: 'aborted_by_script_error',
      errors: [{ detail: 'ReferenceError: <img src=x> is not defined', code: 107 }],
    });
    expect(ended.status, JSON.stringify(ended.body)).toBe(200);
    // Only the failed run's end reaches the channel: no start, nothing for the passing run
    // (deliveries are recorded with the status change, so the list is complete now).
    const deliveries = await t.api('GET', `/api/v1/notification-channels/${res.body.id}/deliveries`);
    expect(deliveries.body.items.map((d: any) => [d.run_id, d.event_type])).toEqual([
      [x.id, 'test.finished'],
    ]);
    const [mail] = await p.waitFor(1);
    expect(mail!.parsed.subject).toBe('[Test failed] Checkout <b>: Failed');
    const html = mail!.parsed.html as string;
    expect(html).toContain('Checkout &lt;b&gt;: Test failed</h2>');
    expect(html).toContain('(107): ReferenceError: &lt;img src=x&gt; is not defined</li>');
    expect(html).not.toContain('<img');
    expect(mail!.parsed.text).toContain('ReferenceError: <img src=x> is not defined');
  });

  it('keeps its own subject when only the HTML is custom, and its own mail when neither is', async () => {
    p = await startSmtpPeer();
    expect((await create({ html_template: '<p>{{ name }}</p>' })).status).toBe(201);
    const x = await run();
    await move(x.id, { status: 'running' });
    const [start] = await p.waitFor(1);
    expect(start!.parsed.subject).toBe(`[STARTED] Checkout <b> — run #${x.id}`);
    // What {{ }} put out is escaped; the text part reads it as the name it is.
    expect(start!.parsed.html).toBe('<p>Checkout &lt;b&gt;</p>');
    expect(start!.parsed.text?.trim()).toBe('Checkout <b>');
  });

  it('refuses a template that does not parse, naming the field and the line', async () => {
    p = await startSmtpPeer();
    const bad = await create({ html_template: '<p>\n{% if name %}\n</p>' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('config.html_template');
    expect(bad.body.error.message).toMatch(/^config\.html_template: line 2: /);
    const subject = await create({ subject_template: '{{ name | nope }}' });
    expect(subject.status).toBe(400);
    expect(subject.body.error.details[0].field).toBe('config.subject_template');
  });

  it('previews the custom mail as it would be sent', async () => {
    p = await startSmtpPeer();
    const res = await t.api(
      'POST',
      `/api/v1/organizations/${t.organizationId}/notification-channels/preview`,
      {
        body: {
          type: 'email',
          config: {
            host: '127.0.0.1',
            port: p.port,
            security: 'none',
            from: 'loadnotify@example.com',
            to: ['owner@example.com'],
            subject_template: 'Run {{ load_test_run_id }} of {{ name }}',
            html_template: '<p>{{ name }} is {{ status_text }}</p>',
          },
        },
      },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.headers.Subject).toBe('Run 42 of Checkout');
    expect(res.body.body.trim()).toBe('Checkout is Finished');
  });
});
