import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * The channel form as a person meets it (issue 19, items 1, 7 and 8): one-time signing
 * secrets in a dialog that takes focus, Rotate secret behind a confirmation, inline errors
 * that go when their field changes, and focus on the first invalid field after a failed save.
 * Real server, real chromium; the Test Hook's receiver is an address nothing listens on,
 * which only makes the test delivery fail. Screenshots at 1280 and 390 px in test-results/.
 */

const SHOTS = path.join(ROOT, 'test-results');
/** Loopback, a port nothing listens on: a valid URL whose Test Hook fails harmlessly. */
const DEAD_URL = 'http://127.0.0.1:9/hooks/load-tests';

describe.skipIf(!existsSync(CHROMIUM))('channel form', () => {
  let t: TestServer;
  let browser: Browser;
  let desktop: BrowserContext;
  let page: Page;

  const newContext = async (width: number, height: number) => {
    const c = await browser.newContext({ viewport: { width, height } });
    c.setDefaultTimeout(10_000);
    return c;
  };
  /** The whole page; with a dialog open, what the viewport shows (the dialog is fixed to it). */
  const shot = (name: string, p: Page = page, fullPage = true) =>
    p.screenshot({ path: path.join(SHOTS, `channel-form-${name}.png`), fullPage });
  /** The accessible label of the focused control, or its tag when it has none. */
  const focused = (p: Page = page) =>
    p.evaluate(() => {
      const el = document.activeElement as HTMLInputElement | null;
      if (!el) return null;
      return el.labels?.[0]?.textContent?.trim() ?? el.getAttribute('aria-label') ?? el.tagName;
    });
  /** Whether the focused element is within the viewport. */
  const focusedInView = (p: Page = page) =>
    p.evaluate(() => {
      const r = document.activeElement!.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
    });
  const setup = async (p: Page, type: string) => {
    await p.goto(`${t.url}/integrations/new/${type}`);
    await p.getByRole('button', { name: 'Save Changes' }).waitFor();
  };

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    desktop = await newContext(1280, 900);
    page = await desktop.newPage();
    await signInAsOwner(page, t.url);
  }, 120_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail')
      await shot(`failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows a new webhook’s signing secret in a dialog that takes focus and must be dismissed', async () => {
    for (const width of [1280, 390]) {
      const c = await newContext(width, 844);
      await c.addCookies(await desktop.cookies());
      const p = await c.newPage();
      await setup(p, 'webhook');
      await p.getByLabel('URL').fill(DEAD_URL);
      await p.getByLabel('Name').fill(`Signed at ${width}`);
      await p.getByRole('button', { name: 'Save Changes' }).click();
      const dialog = p.getByRole('dialog', { name: 'Copy the signing secret now' });
      await dialog.waitFor();
      expect(await focused(p)).toBe('Signing secret');
      expect(await focusedInView(p)).toBe(true);
      expect(await dialog.getByLabel('Signing secret').inputValue()).toMatch(/^whsec_/);
      await shot(`secret-dialog-${width}`, p, false);
      // Escape does not lose it: only Done does.
      await p.keyboard.press('Escape');
      expect(await dialog.isVisible()).toBe(true);
      await dialog.getByRole('button', { name: 'Done' }).click();
      await dialog.waitFor({ state: 'detached' });
      await c.close();
    }
  });

  it('shows the secret of a webhook created by Test Hook on an unsaved form in the dialog too', async () => {
    await setup(page, 'webhook');
    await page.getByLabel('URL').fill(DEAD_URL);
    await page.getByLabel('Name').fill('Tested before saving');
    await page.getByRole('button', { name: 'Test Hook' }).click();
    const dialog = page.getByRole('dialog', { name: 'Copy the signing secret now' });
    await dialog.waitFor();
    expect(await focused()).toBe('Signing secret');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByText('View delivery').waitFor();
  });

  it('asks before rotating, says a second rotation within 24 h drops the older secret, then shows the new one', async () => {
    const made = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'To rotate', url: DEAD_URL },
    });
    const signing = async () =>
      (await t.api('GET', `/api/v1/notification-channels/${made.body.id}`)).body.signing;
    const before = await signing();
    await page.goto(`${t.url}/integrations/${made.body.id}`);
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
    await confirm.waitFor();
    await confirm.getByText('keeps signing for 24 hours').waitFor();
    await confirm.getByText('Rotating again within those 24 hours drops the older secret').waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    expect(await signing()).toEqual(before);

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Copy the signing secret now' });
    await dialog.waitFor();
    expect(await focused()).toBe('Signing secret');
    expect(await focusedInView()).toBe(true);
    const after = await signing();
    expect(after.created_at).not.toBe(before.created_at);
    expect(after.previous_expires_at).not.toBeNull();
    await dialog.getByRole('button', { name: 'Done' }).click();

    // Now the earlier secret is still signing: the warning names it.
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await confirm.getByText('stops signing at once').waitFor();
    await shot('rotate-confirm-1280', page, false);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
  });

  it('clears a field’s inline error when the field changes, and shows no "url: " prefix', async () => {
    await setup(page, 'webhook');
    const url = page.getByLabel('URL');
    await url.fill('not a url');
    await page.getByRole('button', { name: 'Save Changes' }).click();
    const urlError = page.locator('.field').filter({ has: url }).locator('.field-error');
    await urlError.waitFor();
    const message = (await urlError.textContent())!.replace('⚠', '').trim();
    expect(message).not.toMatch(/^url\b/i);
    expect(message).toMatch(/absolute URL/);
    await url.fill('http://127.0.0.1:9/fixed');
    await urlError.waitFor({ state: 'detached' });

    // The form's own check: a required e-mail setting.
    await setup(page, 'email');
    await page.getByLabel('SMTP server').fill('127.0.0.1');
    await page.getByLabel('From').fill('ln@example.com');
    await page.getByRole('button', { name: 'Save Changes' }).click();
    const to = page.getByLabel('To', { exact: true });
    const toError = page.locator('.field').filter({ has: to }).locator('.field-error');
    await toError.filter({ hasText: 'To is required.' }).waitFor();
    await to.fill('ops@example.com');
    await toError.waitFor({ state: 'detached' });
  });

  it('moves focus to the first invalid field after a failed save, far up a phone’s page', async () => {
    const c = await newContext(390, 844);
    await c.addCookies(await desktop.cookies());
    const p = await c.newPage();
    await setup(p, 'webhook');
    await p.getByLabel('URL').fill(DEAD_URL);
    await p.getByLabel('Name').fill('');
    const save = p.getByRole('button', { name: 'Save Changes' });
    await save.scrollIntoViewIfNeeded();
    await save.click();
    await p.getByText("The name can't be empty.").waitFor();
    expect(await focused(p)).toBe('Name');
    expect(await focusedInView(p)).toBe(true);
    await shot('first-invalid-390', p, false);
    await shot('form-390', p);

    // An error the server finds moves focus the same way.
    await p.getByLabel('Name').fill('Bad address');
    await p.getByLabel('URL').fill('not a url');
    await save.scrollIntoViewIfNeeded();
    await save.click();
    await p
      .locator('.field-error')
      .filter({ hasText: /absolute URL/ })
      .waitFor();
    expect(await focused(p)).toBe('URL');
    expect(await focusedInView(p)).toBe(true);
    await c.close();

    await setup(page, 'webhook');
    await page.getByLabel('URL').fill('not a url');
    await page.getByLabel('Name').fill('');
    await page.getByRole('button', { name: 'Save Changes' }).click();
    await page.getByText("The name can't be empty.").waitFor();
    expect(await focused()).toBe('Name');
    await shot('errors-1280');
  });
});
