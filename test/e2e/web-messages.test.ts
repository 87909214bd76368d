import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { joinByInvitation, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT } from './web-build.js';

/**
 * The server's messages as a person meets them in the web app (issue 19): a name over the limit
 * is refused and said, not cut; a bad time zone is one sentence next to its field; a throttled
 * sign-in says how long to wait; the last owner's failed removal is said once. Real chromium
 * against the real server; screenshots at 1280 and 390 px land in test-results/.
 */

const SHOTS = path.join(ROOT, 'test-results');

describe.skipIf(!existsSync(CHROMIUM))('messages in the web app', () => {
  let t: TestServer;
  let browser: Browser;
  let desktop: BrowserContext;
  let page: Page;

  const newContext = async (width: number, height: number) => {
    const c = await browser.newContext({ viewport: { width, height } });
    c.setDefaultTimeout(10_000);
    return c;
  };
  const shot = async (name: string, p: Page = page) => {
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: path.join(SHOTS, `messages-${name}.png`), fullPage: true });
  };
  const signIn = async (p: Page, password = 'correct horse') => {
    await p.getByLabel('Email').fill('owner@example.com');
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
  };

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', {
      env: {
        LOADNOTIFY_SCHEDULE_COMMANDS: process.execPath,
        LOADNOTIFY_SCHEDULE_DIR: tmpdir(),
        ...(process.getuid?.() === 0 ? { LOADNOTIFY_SCHEDULE_USER: 'nobody' } : {}),
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    desktop = await newContext(1280, 900);
    page = await desktop.newPage();
    await page.goto(t.url);
    await signIn(page);
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
  }, 120_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail')
      await shot(`failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('refuses a project name over 200 characters and says so, instead of cutting it', async () => {
    const name = `Quarterly-${'x'.repeat(195)}`; // 205 characters
    await page.goto(`${t.url}/projects`);
    const field = page.getByLabel('Project name');
    await field.fill(name);
    // Nothing cut while typing: the whole name is in the field.
    expect(await field.inputValue()).toBe(name);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByText('The name is 205 characters long; it can be at most 200 characters long').waitFor();
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    await shot('long-name-1280');
    const projects = await t.api('GET', `/api/v1/organizations/${t.organizationId}/projects`);
    expect(projects.body.items.map((p: { name: string }) => p.name.slice(0, 10))).not.toContain('Quarterly-');
  });

  it('says a bad time zone in one sentence next to the field', async () => {
    const { loadTestId } = await seedLoadTest(t, { project: 'Zones', loadTest: 'Zoned test' });
    await page.goto(`${t.url}/load-tests/${loadTestId}`);
    await page.getByRole('heading', { name: 'Schedule', level: 2 }).waitFor();
    await page.getByLabel('Command').fill(`${process.execPath}\n-e\nprocess.exit(0)`);
    await page.getByLabel('Cron expression').fill('0 3 * * *');
    await page.getByLabel('Time zone').fill('Mars/Base');
    await page.getByRole('button', { name: 'Save schedule' }).click();
    const message =
      'The time zone "Mars/Base" (schedule.timezone) is not a time zone we know: ' +
      'use an IANA name such as Europe/Stockholm, America/New_York or UTC';
    await page.locator('.field-error', { hasText: message }).waitFor();
    expect(await page.getByLabel('Time zone').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByText(/CronDate|toTZ|Original error/).count()).toBe(0);
    await shot('time-zone-1280');
  });

  it('says how many fields a cron expression needs the same way in the hint and the error', async () => {
    const { loadTestId } = await seedLoadTest(t, { project: 'Crons', loadTest: 'Cron test' });
    await page.goto(`${t.url}/load-tests/${loadTestId}`);
    await page.getByLabel('Command').fill(process.execPath);
    await page.getByLabel('Cron expression').fill('* * *');
    await page.getByRole('button', { name: 'Save schedule' }).click();
    const rule = 'six with seconds first, or seven with a year last';
    await page.locator('.field-error', { hasText: `has 3 fields; it needs five fields` }).waitFor();
    expect(await page.locator('.field-error', { hasText: rule }).count()).toBe(1);
    expect(await page.locator('.hint', { hasText: rule }).count()).toBe(1);
    await shot('cron-fields-1280');
  });

  it('offers only the results a final status can carry', async () => {
    const { loadTestId } = await seedLoadTest(t, { project: 'Outcomes', loadTest: 'Outcome test' });
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    await page.goto(`${t.url}/runs/${run.body.id}`);
    // The number receivers get, said in words rather than as "Status code (k6) -2 Created".
    const inWebhooks = page.locator('dt', { hasText: 'Status in webhooks' }).locator('+ dd');
    expect(await inWebhooks.textContent()).toBe(
      '-2 the status number a webhook receiver reads for “Created”, in k6 Cloud’s numbering',
    );
    const options = () => page.getByLabel('Result').locator('option').allTextContents();
    await page.getByLabel('New status').selectOption('finished');
    // A finished run without a result is recorded as passed: the choice shows that, not "None".
    expect(await options()).toEqual(['Passed', 'Failed']);
    expect(await page.getByLabel('Result').inputValue()).toBe('passed');
    await page.getByLabel('New status').selectOption('aborted_by_user');
    expect(await options()).toEqual(['None', 'Failed']);
    expect(await page.getByLabel('Result').inputValue()).toBe('');
    await page.getByLabel('New status').selectOption('aborted_by_threshold');
    expect(await options()).toEqual(['Failed (implied)']);
    await page.getByLabel('New status').selectOption('aborted_by_user');
    await page.getByLabel('Result').selectOption('failed');
    await shot('result-choices-1280');
    await page.getByRole('button', { name: 'Update status' }).click();
    await page.getByRole('heading', { name: /Aborted by user/ }).waitFor();
    expect((await t.api('GET', `/api/v1/runs/${run.body.id}`)).body).toMatchObject({
      status: 'aborted_by_user',
      result: 'failed',
    });
  });

  it("shows the last owner's failed removal once, in the dialog", async () => {
    // A second owner when the page loads, gone before the removal: the page's list is stale,
    // so only the server knows that owner@ has become the last owner.
    const second = await joinByInvitation(t, 'second@example.com', 'owner', { password: 'second-password' });
    await page.goto(`${t.url}/members`);
    await page.getByRole('button', { name: 'Remove second@example.com' }).waitFor();
    const gone = await t.api('DELETE', `/api/v1/organizations/${t.organizationId}/members/${second.userId}`);
    expect(gone.status).toBe(204);
    await page.getByRole('button', { name: 'Remove owner@example.com' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Remove member' }).click();
    const said = page.getByText(/last owner/i);
    await said.first().waitFor();
    expect(await said.count()).toBe(1);
    expect(await dialog.getByText(/last owner/i).count()).toBe(1);
    await shot('last-owner-1280');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await page.getByText(/last owner/i).count()).toBe(0);
  });

  it('does not offer to remove the only owner, and says why', async () => {
    await page.goto(`${t.url}/members`);
    const remove = page.getByRole('button', { name: 'Remove owner@example.com' });
    await remove.waitFor();
    expect(await remove.isDisabled()).toBe(true);
    expect(await remove.getAttribute('aria-describedby')).toBeTruthy();
    await page.getByText('The only owner: make someone else an owner first.').waitFor();
    await shot('only-owner-1280');
  });

  it('says how long to wait when sign-in is throttled, on a phone too', async () => {
    const phone = await newContext(390, 844);
    try {
      const p = await phone.newPage();
      await p.goto(t.url);
      const alert = p.getByText(/too many failed sign-ins; try again in \d+ seconds?/);
      // 5 free failures, then a 1 s lock that doubles: an attempt inside the lock is refused.
      for (let i = 0; i < 12 && (await alert.count()) === 0; i++) {
        await signIn(p, `wrong guess ${i}`);
        await p.getByText(/wrong e-mail or password|too many failed sign-ins/).waitFor();
      }
      await alert.waitFor();
      await shot('throttled-390', p);
    } finally {
      await phone.close();
    }
  });
});
