import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STARTERS } from '../../src/channels/starters.js';
import { addMember, startTestServer, type TestServer } from '../helpers/server.js';
import { axeProblems } from './axe.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, openMoreSettings, ROOT, signInAsOwner } from './web-build.js';

/**
 * A team coming from k6 Cloud sets up its channels in the web form (issue 20): a Jinja2
 * webhook from a starter with k6 Cloud's headers and notification events, and a custom e-mail
 * with recipients ticked from the organization's members and typed. Real server, real
 * chromium; what was saved is read back through the API and in the form after a reload.
 * Screenshots in test-results/k6cloud-form-*.png.
 */

const SHOTS = path.join(ROOT, 'test-results');
/** Loopback, a port nothing listens on: nothing is sent in these tests. */
const DEAD_URL = 'http://127.0.0.1:9/hooks/k6';

const starter = (id: string) => STARTERS.find((s) => s.id === id)!;

describe.skipIf(!existsSync(CHROMIUM))('k6 Cloud settings in the channel form', () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  const shot = (name: string, p: Page = page) =>
    p.screenshot({ path: path.join(SHOTS, `k6cloud-form-${name}.png`), fullPage: true });
  const channelsNamed = async (name: string) =>
    (await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`)).body.items.filter(
      (c: any) => c.name === name,
    );

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    await addMember(t, 'dana@example.com', 'member');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const c = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    c.setDefaultTimeout(10_000);
    page = await c.newPage();
    await signInAsOwner(page, t.url);
  }, 120_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail')
      await shot(`failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}`);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('saves a Jinja2 webhook from the Generic starter with k6 Cloud headers and notification events', async () => {
    await page.goto(`${t.url}/integrations/new/webhook`);
    await page.getByRole('button', { name: 'Save Changes' }).waitFor();
    await page.getByLabel('URL').fill(DEAD_URL);
    await page.getByLabel('Name', { exact: true }).fill('k6 Cloud hook');

    await openMoreSettings(page);
    await page.getByLabel('Starter template').selectOption({ label: 'Generic (Jinja2)' });
    await page.getByRole('button', { name: 'Use starter' }).click();
    await page.getByRole('status').filter({ hasText: 'Generic (Jinja2) filled in below' }).waitFor();
    expect(await page.getByLabel('Body template (optional)').inputValue()).toBe(
      starter('generic-jinja2').config.template,
    );
    expect(await page.getByLabel('Template language').inputValue()).toBe('jinja2');
    await page.getByLabel('Headers', { exact: true }).selectOption('k6cloud');

    await page.getByLabel('By k6 Cloud notification event').check();
    // The event, trigger, status and result fieldsets give way to the identifiers.
    expect(await page.getByRole('group', { name: 'Test finished' }).count()).toBe(0);
    await page.getByLabel(/Test failed test\.finished\.failed/).check();
    await page.getByLabel(/Test aborted by script error/).check();
    await page.getByLabel(/Scheduled test started/).check();
    // The preview renders the starter as the channel would send it.
    await page.locator('.channel-preview').getByText('"organization_id"').first().waitFor();
    await shot('webhook-1280');

    await page.getByRole('button', { name: 'Save Changes' }).click();
    const dialog = page.getByRole('dialog', { name: 'Copy the signing secret now' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Done' }).click();

    const [saved] = await channelsNamed('k6 Cloud hook');
    // Ticked in the order of k6 Cloud's list, whatever order they were ticked in.
    expect(saved.event_types).toEqual([
      'test.started.scheduled',
      'test.finished.failed',
      'test.finished.aborted_script_error',
    ]);
    expect(saved.config).toMatchObject({
      template_engine: 'jinja2',
      header_style: 'k6cloud',
      template: starter('generic-jinja2').config.template,
    });

    // Read back in the form after a reload.
    await page.reload();
    await page.getByRole('button', { name: 'Save Changes' }).waitFor();
    expect(await page.getByLabel('By k6 Cloud notification event').isChecked()).toBe(true);
    expect(await page.getByLabel(/Test failed test\.finished\.failed/).isChecked()).toBe(true);
    expect(await page.getByLabel(/Test passed/).isChecked()).toBe(false);
    expect(await page.getByLabel('Template language').inputValue()).toBe('jinja2');
    expect(await page.getByLabel('Headers', { exact: true }).inputValue()).toBe('k6cloud');
    await shot('webhook-saved-1280');

    // Back to the event fieldsets: the identifiers go.
    await page.getByLabel('By event, trigger, status and result (below)').check();
    await page.getByRole('group', { name: 'Test finished' }).waitFor();
    await page.getByRole('button', { name: 'Save Changes' }).click();
    // Exactly the notice: the URL's hint ("the rest of the saved URL") holds the word too.
    await page.getByText('Saved.', { exact: true }).waitFor();
    const [back] = await channelsNamed('k6 Cloud hook');
    expect(back.event_types).toBeNull();
  });

  it('saves a custom e-mail with members ticked and addresses typed, from the Email notification starter', async () => {
    await page.goto(`${t.url}/integrations/new/email`);
    await page.getByRole('button', { name: 'Save Changes' }).waitFor();
    await page.getByLabel('SMTP server').fill('127.0.0.1');
    await page.getByLabel('Port').fill('2525');
    await page.getByLabel('Security').selectOption('none');
    await page.getByLabel('From').fill('loadnotify@example.com');
    const to = page.getByLabel('To', { exact: true });
    await to.fill('typed@example.com');
    await page.getByLabel('Name', { exact: true }).fill('Custom mail');

    const members = page.getByRole('group', { name: 'Recipients from your organization' });
    await members.getByLabel('dana@example.com').check();
    await members.getByLabel('owner@example.com').check();
    expect(await to.inputValue()).toBe('typed@example.com, dana@example.com, owner@example.com');
    await members.getByLabel('dana@example.com').uncheck();
    expect(await to.inputValue()).toBe('typed@example.com, owner@example.com');

    await openMoreSettings(page);
    await page.getByLabel('Starter template').selectOption({ label: 'Email notification (Jinja2)' });
    await page.getByRole('button', { name: 'Use starter' }).click();
    expect(await page.getByLabel('Subject template (optional)').inputValue()).toBe(
      starter('email-jinja2').config.subject_template,
    );
    expect(await page.getByLabel('Template language').inputValue()).toBe('jinja2');
    await page.getByLabel('By k6 Cloud notification event').check();
    await page.getByLabel(/Test finished test\.finished\.finished/).check();
    await shot('email-1280');

    await page.getByRole('button', { name: 'Save Changes' }).click();
    await page.waitForURL(/\/integrations\/\d+$/);
    const [saved] = await channelsNamed('Custom mail');
    expect(saved.config).toMatchObject({
      to: ['typed@example.com', 'owner@example.com'],
      template_engine: 'jinja2',
      subject_template: starter('email-jinja2').config.subject_template,
      html_template: starter('email-jinja2').config.html_template,
    });
    expect(saved.event_types).toEqual(['test.finished.finished']);
    await page.reload();
    await members.getByLabel('owner@example.com').waitFor();
    expect(await members.getByLabel('owner@example.com').isChecked()).toBe(true);
    expect(await members.getByLabel('dana@example.com').isChecked()).toBe(false);
    await shot('email-saved-1280');
  });

  it('reads on a phone and has no serious or critical axe violation with every k6 Cloud part open', async () => {
    const c = await browser.newContext({ viewport: { width: 390, height: 844 } });
    c.setDefaultTimeout(10_000);
    await c.addCookies(await page.context().cookies());
    const p = await c.newPage();
    for (const type of ['webhook', 'email']) {
      await p.goto(`${t.url}/integrations/new/${type}`);
      await p.getByRole('button', { name: 'Save Changes' }).waitFor();
      await openMoreSettings(p);
      await p.getByRole('button', { name: 'Use starter' }).click();
      await p.getByLabel('By k6 Cloud notification event').check();
      await p.getByLabel(/Test aborted by script error/).check();
      if (type === 'email')
        await p
          .getByRole('group', { name: 'Recipients from your organization' })
          .getByLabel('dana@example.com')
          .waitFor();
      expect(await axeProblems(p), type).toEqual([]);
      // Nothing wider than the phone.
      expect(await p.evaluate(() => document.documentElement.scrollWidth), type).toBeLessThanOrEqual(390);
      await shot(`${type}-390`, p);
    }
    await c.close();
  });
});
