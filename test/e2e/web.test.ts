import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, openMoreSettings, ROOT } from './web-build.js';

/**
 * The web app in a real browser against the real server: the user's path from the k6 Cloud
 * document ("Integrations → Setup → paste the URL → Save Changes / Test Hook"), with a real
 * local receiver. Screenshots land in test-results/ for people to look at.
 */

const SHOTS = path.join(ROOT, 'test-results');

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback; answers `status` and keeps every request. */
async function startReceiver(): Promise<{
  url: string;
  got: Received[];
  status: { code: number };
  close(): Promise<void>;
}> {
  const got: Received[] = [];
  const status = { code: 200 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(status.code, { 'content-type': 'text/plain' }).end(status.code < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/load-tests`,
    got,
    status,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function until<T>(what: string, check: () => T | undefined | null | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!existsSync(CHROMIUM))('web app in a browser', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const newContext = async (width: number, height: number) => {
    const c = await browser.newContext({ viewport: { width, height } });
    // Fail on the locator that did not appear, well before the test's own timeout.
    c.setDefaultTimeout(10_000);
    return c;
  };
  // From the top: a full-page capture keeps the scroll position, and the sticky menu would be
  // drawn wherever the page was scrolled to (02b-schedule is taken after Save, low on the page).
  const shot = async (name: string, p: Page = page) => {
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: path.join(SHOTS, `web-${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    // The server serves web/dist; build it so the test sees the current sources.
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    receiver = await startReceiver();
    t = await startTestServer('sqlite', {
      setup: false,
      env: {
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        // The setup user is instance administrator; schedules may start node (saved paused here).
        LOADNOTIFY_SCHEDULE_COMMANDS: process.execPath,
        LOADNOTIFY_SCHEDULE_DIR: tmpdir(),
        ...(process.getuid?.() === 0 ? { LOADNOTIFY_SCHEDULE_USER: 'nobody' } : {}),
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await newContext(1280, 900);
    page = await context.newPage();
  }, 120_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail')
      await shot(`failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await receiver?.close();
  });

  it('first run: the setup form creates the owner and signs in', async () => {
    await page.goto(t.url);
    await page.getByRole('heading', { name: 'Welcome to loadnotify' }).waitFor();
    await shot('01-setup');
    // An empty form: every field says what it needs at once, not one per try.
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Enter your e-mail address.').waitFor();
    await page.getByText('Use at least 8 characters.').waitFor();
    await page.getByText('Name your organization, such as your team or company.').waitFor();
    await page.getByLabel('Email').fill('owner@');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Enter an e-mail address such as name@example.com.').waitFor();
    await shot('01-setup-empty');
    await page.getByLabel('Email').fill('owner@example.com');
    await page.getByLabel('Password').fill('short');
    await page.getByLabel('Organization name').fill('Acme');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Use at least 8 characters.').waitFor();
    await page.getByLabel('Password').fill('correct horse');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/projects');
    expect(await page.getByLabel('Organization').locator('option:checked').textContent()).toContain('Acme');
  });

  it('creates a project and a load test', async () => {
    await page.getByLabel('Project name').fill('Checkout');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('link', { name: 'Checkout' }).click();
    await page.getByRole('heading', { name: 'Checkout', level: 1 }).waitFor();
    await page.getByLabel('Load test name').fill('Checkout flow');
    await page.getByRole('button', { name: 'Create load test' }).click();
    await page.getByRole('link', { name: 'Checkout flow' }).waitFor();
    await shot('02-project');
  });

  it('schedules a load test: the command and cron are saved and the next three runs shown', async () => {
    await page.getByRole('link', { name: 'Checkout flow' }).click();
    await page.getByRole('heading', { name: 'Schedule', level: 2 }).waitFor();
    await page.getByLabel('Cron expression').fill('not a cron');
    await page.getByLabel('Command').fill(`${process.execPath}\n-e\nprocess.exit(0)`);
    await page.getByRole('button', { name: 'Save schedule' }).click();
    // The API's error names schedule.cron; the form shows it next to that field.
    await page.getByLabel('Cron expression').and(page.locator('[aria-invalid="true"]')).waitFor();
    await page.getByLabel('Cron expression').fill('0 3 * * *');
    await page.getByLabel('Time zone').fill('Europe/Stockholm');
    await page.getByLabel('Schedule enabled').uncheck();
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByText('Schedule saved.').waitFor();
    expect(await page.getByRole('list', { name: 'Next runs' }).getByRole('listitem').count()).toBe(3);
    const apiPath = new URL(page.url()).pathname.replace('/load-tests/', '/api/v1/load-tests/');
    // Read back through the browser's own session: this server was set up in the browser.
    const stored = { body: await page.evaluate((p) => fetch(p).then((r) => r.json()), apiPath) };
    expect(stored.body.schedule).toMatchObject({
      command: [process.execPath, '-e', 'process.exit(0)'],
      cron: '0 3 * * *',
      timezone: 'Europe/Stockholm',
      enabled: false,
    });
    await shot('02b-schedule');
    await page.goBack();
  });

  it('sets up a WebHook: Integrations → Setup → URL → Save Changes, URL shown redacted', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
    await page.getByRole('heading', { name: 'Integrations', level: 1 }).waitFor();
    for (const label of [
      'WebHook',
      'Slack',
      'HipChat',
      'Microsoft Teams',
      'Discord',
      'Google Chat',
      'Mattermost',
    ]) {
      await page.getByRole('button', { name: `Setup ${label}` }).waitFor();
    }
    await shot('03-integrations-empty');
    await page.getByRole('button', { name: 'Setup WebHook' }).click();
    await page.getByLabel('URL').fill('not a url');
    await page.getByLabel('Name').fill('CI hook');
    await page.getByRole('button', { name: 'Save Changes' }).click();
    // The server's validation message appears next to the field it names.
    await page.locator('.field-error').filter({ hasText: 'url' }).waitFor();
    await page.getByLabel('URL').fill(receiver.url);
    await page.getByRole('button', { name: 'Save Changes' }).click();
    await page.getByText('Saved.').waitFor();
    await page.waitForURL(/\/integrations\/\d+$/);
    // A new webhook's signing secret is shown once, in a dialog that holds the page until Done.
    await page
      .getByRole('dialog', { name: 'Copy the signing secret now' })
      .getByRole('button', { name: 'Done' })
      .click();
    const shown = await page.getByLabel('URL').inputValue();
    expect(shown).not.toBe(receiver.url);
    // Redacted as scheme://host/… with a "rest hidden" marker beside it, not the API's stars.
    expect(shown).toBe(`${new URL(receiver.url).origin}/hooks/…`);
    await page
      .locator('.field', { has: page.getByLabel('URL') })
      .getByText(/^rest hidden/)
      .waitFor();
    await shot('04-webhook-saved');
  });

  it('Test Hook sends test.notification_channel to the receiver and shows the outcome inline', async () => {
    const before = receiver.got.length;
    await page.getByRole('button', { name: 'Test Hook' }).click();
    const outcome = page.getByRole('status').filter({ hasText: 'HTTP 200' });
    await outcome.waitFor();
    expect(await outcome.textContent()).toContain('Delivered');
    // Said once: the badge and the code, not again as a reason.
    expect(await outcome.textContent()).not.toContain('receiver answered');
    const req = await until('the test request', () => receiver.got[before]);
    expect(req.headers['x-loadimpact-event']).toBe('test.notification_channel');
    expect(req.headers['user-agent']).toMatch(/^LoadImpactWebHook/);
    expect(JSON.parse(req.body)).toEqual({ event: 'test.notification_channel' });
    await shot('05-test-hook-delivered');

    receiver.status.code = 500;
    await page.getByRole('button', { name: 'Test Hook' }).click();
    const failed = page.getByRole('status').filter({ hasText: 'HTTP 500' });
    await failed.waitFor();
    expect(await failed.textContent()).toMatch(/Failed|Pending/);
    await shot('06-test-hook-failed');
    receiver.status.code = 200;
  });

  it('keeps the saved URL when the form is saved without touching it', async () => {
    await page.getByLabel('Name').fill('CI hook (renamed)');
    await page.getByRole('button', { name: 'Save Changes' }).click();
    await page.getByText('Saved.').waitFor();
    const before = receiver.got.length;
    await page.getByRole('button', { name: 'Test Hook' }).click();
    await page.getByRole('status').filter({ hasText: 'HTTP 200' }).waitFor();
    await until('the request after renaming', () => receiver.got[before]);
  });

  it('shows the delivery log with each attempt, and redelivers', async () => {
    await page.getByRole('link', { name: 'Delivery log' }).first().click();
    await page.getByRole('heading', { name: /Delivery log/, level: 1 }).waitFor();
    await page.getByRole('region', { name: /Deliveries to/ }).waitFor();
    await shot('07-delivery-log');
    await page
      .getByRole('row')
      .filter({ hasText: 'Delivered' })
      .first()
      .getByRole('link', { name: /Delivery #\d+ details/ })
      .click();
    await page.getByRole('heading', { name: 'Attempt 1' }).waitFor();
    await page.getByText('x-loadimpact-event', { exact: false }).first().waitFor();
    // The way back names the channel.
    await page
      .getByRole('navigation', { name: 'Breadcrumb' })
      .getByRole('link', { name: 'CI hook (renamed)' })
      .waitFor();
    // What was asked, and where: the URL as redacted as the channel list shows it.
    const request = page.getByRole('region', { name: 'Attempt 1' }).locator('pre.code').first();
    const line = (await request.textContent())!;
    expect(line).toMatch(new RegExp(`^POST ${new URL(receiver.url).origin}/hooks/\\*{4}`));
    expect(line).not.toContain(receiver.url);
    await shot('08-delivery-detail');
    const before = receiver.got.length;
    await page.getByRole('button', { name: 'Redeliver' }).click();
    await page.getByText(/Redelivery queued/).waitFor();
    await page.getByRole('link', { name: /delivery #\d+/ }).click();
    await page.locator('.badge').filter({ hasText: 'Delivered' }).waitFor();
    await until('the redelivered request', () => receiver.got[before]);
  });

  it('a run started from the UI notifies the channel and its page updates without reload', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('link', { name: 'Checkout' }).click();
    await page.getByRole('link', { name: 'Checkout flow' }).click();
    await page.getByRole('button', { name: 'New run' }).click();
    await page.waitForURL(/\/runs\/\d+$/);
    await page.getByRole('heading', { name: /^Status\s+Created/ }).waitFor();
    const before = receiver.got.length;
    // What comes next by hand is offered first: start it, then end it.
    expect(await page.getByLabel('New status').inputValue()).toBe('running');
    await page.getByRole('button', { name: 'Update status' }).click();
    await page.getByRole('heading', { name: /Status\s+▶?\s*Running/ }).waitFor();
    expect(await page.getByLabel('New status').inputValue()).toBe('finished');
    const started = await until('test.started', () =>
      receiver.got.slice(before).find((r) => r.headers['x-loadimpact-event'] === 'test.started'),
    );
    expect(JSON.parse(started.body)).toMatchObject({
      event: 'test.started',
      status: 2,
      status_text: 'Running',
    });
    await page.getByRole('region', { name: 'Notifications of this run' }).getByText('Delivered').waitFor();
    await shot('09-run-running');

    // Another process (a runner) finishes the run; the page follows by polling.
    const runId = Number(new URL(page.url()).pathname.split('/').pop());
    const csrf = (await context.cookies()).find((c) => c.name === 'ln_csrf')!.value;
    const res = await page.evaluate(
      async ([id, token]) => {
        const r = await fetch(`/api/v1/runs/${id}/status`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': token! },
          body: JSON.stringify({
            status: 'finished',
            result: 'failed',
            summary: {
              thresholds_passed: false,
              thresholds: { 'http_req_duration: p(95)<500': false },
              requests: 12345,
              failure_rate: 0.0125,
              p95_ms: 612.4,
            },
          }),
        });
        return r.status;
      },
      [String(runId), csrf],
    );
    expect(res).toBe(200);
    await page.getByRole('heading', { name: /Status\s+✓?\s*Finished/ }).waitFor({ timeout: 6000 });
    await page.locator('.facts .badge').filter({ hasText: 'Failed' }).waitFor();
    // The runner's summary: thresholds in words and the headline figures.
    const figures = page.getByRole('region', { name: 'Test summary' });
    await figures.getByText('✗ Some failed').waitFor();
    expect(await figures.getByText('12,345').count()).toBe(1);
    expect(await figures.getByText('1.25 %').count()).toBe(1);
    expect(await figures.getByText('612.4 ms').count()).toBe(1);
    expect(await figures.getByRole('list', { name: 'Thresholds' }).textContent()).toContain(
      '✗ failed: http_req_duration: p(95)<500',
    );
    await shot('10-run-finished');
  });

  it('a member sees integrations read-only: no Setup, Save Changes, Test Hook or Delete', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
    await page.getByLabel('Email').fill('mia@example.com');
    await page.getByLabel('Role', { exact: true }).selectOption('member');
    await page.getByRole('button', { name: 'Invite' }).click();
    const link = new URL(await page.getByLabel('Invitation link').inputValue());
    await page.getByRole('cell', { name: 'mia@example.com', exact: true }).waitFor();
    await shot('11-members');
    // Mia accepts outside the browser, as a new user with a password of her own.
    const accepted = await t.api('POST', '/api/v1/invitations/accept', {
      token: null,
      body: { token: new URLSearchParams(link.hash.slice(1)).get('token'), password: 'password123' },
    });
    expect(accepted.status).toBe(200);
    await page.getByRole('button', { name: 'Done' }).click();

    const memberContext = await newContext(1280, 900);
    const p = await memberContext.newPage();
    await p.goto(`${t.url}/integrations`);
    await p.getByRole('heading', { name: 'Sign in to loadnotify' }).waitFor();
    await p.getByLabel('Email').fill('mia@example.com');
    await p.getByLabel('Password').fill('password123');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Integrations', level: 1 }).waitFor();
    await p.getByRole('link', { name: 'CI hook (renamed)', exact: true }).waitFor();
    expect(await p.getByRole('button', { name: /^Setup/ }).count()).toBe(0);
    expect(await p.getByRole('button', { name: /^(Delete|Disable|Enable)/ }).count()).toBe(0);
    await p.getByRole('link', { name: 'CI hook (renamed)', exact: true }).click();
    await p.getByLabel('URL').waitFor();
    expect(await p.getByLabel('URL').isDisabled()).toBe(true);
    expect(await p.getByRole('button', { name: /Save Changes|Test Hook|Delete/ }).count()).toBe(0);
    await shot('12-member-readonly', p);
    await memberContext.close();
  });

  it('disables and deletes a channel with a confirmation dialog', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
    await page.getByRole('button', { name: 'Disable CI hook (renamed)' }).click();
    await page.getByRole('button', { name: 'Enable CI hook (renamed)' }).waitFor();
    await page.getByRole('button', { name: 'Delete CI hook (renamed)' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await shot('13-delete-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('link', { name: 'CI hook (renamed)', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Delete CI hook (renamed)' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete channel' }).click();
    await page.getByText('No channels yet.').waitFor();
  });

  it('creates an API token shown once, and revokes it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API tokens' }).click();
    await page.getByLabel('Token name').fill('CI pipeline');
    await page.getByRole('button', { name: 'Create token' }).click();
    const value = await page.getByLabel('New API token').inputValue();
    await page.getByRole('cell', { name: 'CI pipeline', exact: true }).waitFor();
    expect(value.length).toBeGreaterThan(20);
    const me = await t.api('GET', '/api/v1/me', { token: value });
    expect(me.status).toBe(200);
    await page.getByRole('button', { name: 'Copy' }).waitFor();
    await shot('14-token-created');
    await page.getByRole('button', { name: 'Revoke CI pipeline' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke token' }).click();
    await page.getByRole('cell', { name: 'CI pipeline', exact: true }).waitFor({ state: 'detached' });
    expect((await t.api('GET', '/api/v1/me', { token: value })).status).toBe(401);
  });

  it('sets up a templated WebHook with a live preview, and shows its signing secret once', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
    await page.getByRole('button', { name: 'Setup WebHook' }).click();
    await page.getByLabel('URL').fill(receiver.url);
    await page.getByLabel('Name').fill('Templated hook');
    const preview = page.getByRole('complementary', { name: 'Preview' });
    const body = preview.getByTestId('preview-body');
    // The documented payload for the sample run first, then what the template makes of it.
    await body.filter({ hasText: '"status_text": "Finished"' }).waitFor();
    await openMoreSettings(page);
    await page
      .getByLabel('Body template')
      .fill('{"text": "{{ name }} in {{ project_name }}: {{ status_text }}"}');
    await body.filter({ hasText: '"text": "Checkout in Shop: Finished"' }).waitFor();
    await preview.getByLabel('Sample event').selectOption('test.started');
    await body.filter({ hasText: '"text": "Checkout in Shop: Running"' }).waitFor();
    await preview.getByText('webhook-signature: v1,<signed at delivery').waitFor();
    await shot('15-webhook-preview');

    await page.getByRole('button', { name: 'Save Changes' }).click();
    await page.getByText('Saved.').waitFor();
    await page.waitForURL(/\/integrations\/\d+$/);
    const secret = await page.getByLabel('Signing secret', { exact: true }).inputValue();
    expect(secret).toMatch(/^whsec_/);
    await page.getByText('it is shown only once').waitFor();
    await shot('16-signing-secret-once');

    // Once: gone after Done (the dialog holds the page until then) and after a reload.
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByLabel('Signing secret', { exact: true }).waitFor({ state: 'detached' });

    // The receiver can verify what loadnotify sends with the secret it was shown.
    const before = receiver.got.length;
    await page.getByRole('button', { name: 'Test Hook' }).click();
    await page.getByRole('status').filter({ hasText: 'HTTP 200' }).waitFor();
    const req = await until('the signed test request', () => receiver.got[before]);
    expect(req.body).toBe('{"text": " in : "}');
    expect(verifyWebhook(secret, req.headers, req.body).id).toBe(req.headers['webhook-id']);

    await page.reload();
    await page.getByRole('heading', { name: 'Signing' }).waitFor();
    expect(await page.content()).not.toContain(secret);
    // Rotating asks first, then shows a new one.
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page
      .getByRole('dialog', { name: 'Rotate the signing secret?' })
      .getByRole('button', { name: 'Rotate secret' })
      .click();
    const rotated = await page.getByLabel('Signing secret', { exact: true }).inputValue();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    await page.getByText('The previous secret also signs until').waitFor();
    await page.getByRole('button', { name: 'Done' }).click();
  });

  it('fits a 390 px wide phone: the menu becomes a top bar', async () => {
    const phone = await newContext(390, 844);
    await phone.addCookies(await context.cookies());
    const p = await phone.newPage();
    await p.goto(`${t.url}/integrations`);
    await p.getByRole('heading', { name: 'Integrations', level: 1 }).waitFor();
    // Both boxes from one layout: measured by two calls, the menu was once seen mid-layout
    // (CI: the menu at 250 px, the heading at its usual 244 px, below a 228 px top bar).
    await p.waitForLoadState('networkidle');
    const boxes = await p.evaluate(() => {
      const nav = document.querySelector('nav[aria-label="Main"]')!.getBoundingClientRect();
      const heading = document.querySelector('main h1')!.getBoundingClientRect();
      return { navBottom: nav.bottom, headingTop: heading.top };
    });
    expect(boxes.navBottom).toBeLessThanOrEqual(boxes.headingTop);
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('15-phone-integrations', p);
    await p.getByRole('button', { name: 'Setup Slack' }).click();
    await p.getByLabel('URL').waitFor();
    await shot('16-phone-slack-setup', p);
    await phone.close();
  });

  it('signs out from the header', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to loadnotify' }).waitFor();
    expect((await t.api('GET', '/api/v1/me', { token: null })).status).toBe(401);
  });
});
