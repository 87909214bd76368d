import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, openMoreSettings, ROOT, signInAsOwner } from './web-build.js';

/**
 * A webhook's custom headers through the web form (issue 22): typed as `Name: value` lines,
 * checked before anything is sent, sent as the API's object, arriving at a real receiver, and
 * write-only afterwards (the form shows that they are saved, never what they are). Real server,
 * real chromium; screenshots in test-results/.
 */

const SHOTS = path.join(ROOT, 'test-results');

describe.skipIf(!existsSync(CHROMIUM))('webhook custom headers in the form', () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  let receiver: Receiver;

  const shot = (name: string) =>
    page.screenshot({ path: path.join(SHOTS, `webhook-headers-${name}.png`), fullPage: true });

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    receiver = await startReceiver();
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    await signInAsOwner(page, t.url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await receiver?.close();
  });

  it('takes Name: value lines, refuses a line that is not one, and the headers arrive', async () => {
    await page.goto(`${t.url}/integrations/new/webhook`);
    await page.getByRole('button', { name: 'Save Changes' }).waitFor();
    await page.getByLabel('URL').fill(receiver.url('/hooks'));
    await page.getByLabel('Name').fill('With headers');
    await openMoreSettings(page);
    const headers = page.getByLabel('Custom headers (optional)');
    expect(await headers.getAttribute('placeholder')).toBe('Authorization: Bearer …');

    await headers.fill('X-Api-Key: k-123\nnot a header');
    // Folded away again before saving: the error opens it, and the field takes the focus.
    await page.locator('details.more-settings > summary').click();
    await headers.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Save Changes' }).click();
    await page.getByText('Line 2 is not a header: write each as Name: value, one per line.').waitFor();
    await headers.waitFor({ state: 'visible' });
    expect(await headers.evaluate((el) => el === document.activeElement)).toBe(true);
    await shot('line-error');
    const before = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    expect(before.body.items).toEqual([]);

    await headers.fill('Authorization: Bearer s3cr3t-token\nX-Api-Key: k-123:with-colon\n');
    await page.getByRole('button', { name: 'Save Changes' }).click();
    const dialog = page.getByRole('dialog', { name: 'Copy the signing secret now' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });

    const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    const channel = list.body.items[0] as {
      id: number;
      secrets_set: string[];
      config: Record<string, unknown>;
    };
    expect(channel.secrets_set).toContain('headers');
    expect(channel.config.headers).toBeUndefined();

    const tested = await t.api('POST', `/api/v1/notification-channels/${channel.id}/test`, { body: {} });
    expect(tested.status).toBeLessThan(300);
    const got = await eventually(async () => receiver.requests.find((r) => r.url === '/hooks'));
    expect(got.headers.authorization).toBe('Bearer s3cr3t-token');
    expect(got.headers['x-api-key']).toBe('k-123:with-colon');

    // Write-only: the edit form says they are saved and shows none of them.
    await page.goto(`${t.url}/integrations/${channel.id}`);
    // Saved headers are a value the person should see is there: "More settings" starts open.
    const saved = page.getByLabel('Custom headers (optional)');
    await saved.waitFor({ state: 'visible' });
    expect(await saved.inputValue()).toBe('');
    expect(await saved.getAttribute('placeholder')).toBe('Saved; type them all again to replace them');
    expect(await page.content()).not.toContain('s3cr3t-token');
    await shot('saved');
  });
});
