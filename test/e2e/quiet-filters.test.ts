import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/receiver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * Issue 21: the channel form sets the quiet filters of test.finished (only_changes,
 * worse_by_percent) and shows them again when the channel is opened. Real chromium against
 * the real server; the screenshot lands in test-results/quiet-filters.png.
 */
const SHOTS = path.join(ROOT, 'test-results');

describe.skipIf(!existsSync(CHROMIUM))('quiet filters in the channel form', () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
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
  });

  it('saves only_changes and a p95 limit, and shows them when the channel is opened again', async () => {
    await page.goto(`${t.url}/integrations/new/slack`);
    await page.getByRole('button', { name: 'Save Changes' }).waitFor();
    await page.getByLabel('URL').fill('http://127.0.0.1:9/services/T/B/x');
    await page.getByLabel('Name').fill('Quiet Slack');
    const quiet = page.getByRole('group', { name: 'Less noise' });
    await quiet.getByLabel('Only when the outcome changes').check();
    await quiet.getByLabel('p95 duration (up), worse by more than (%)').fill('10');
    await page.getByRole('button', { name: 'Save Changes' }).click();

    const channel = await eventually(async () => {
      const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
      return list.body.items.find((c: { name: string }) => c.name === 'Quiet Slack');
    });
    expect(channel.events['test.finished']).toMatchObject({
      only_changes: true,
      worse_by_percent: { p95_ms: 10 },
    });

    await page.goto(`${t.url}/integrations/${channel.id}`);
    const again = page.getByRole('group', { name: 'Less noise' });
    await again.getByLabel('Only when the outcome changes').waitFor();
    expect(await again.getByLabel('Only when the outcome changes').isChecked()).toBe(true);
    expect(await again.getByLabel('p95 duration (up), worse by more than (%)').inputValue()).toBe('10');
    await again.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SHOTS, 'quiet-filters.png'), fullPage: true });

    // Clearing the limit removes it.
    await again.getByLabel('p95 duration (up), worse by more than (%)').fill('');
    await page.getByRole('button', { name: 'Save Changes' }).click();
    await eventually(async () => {
      const c = await t.api('GET', `/api/v1/notification-channels/${channel.id}`);
      return c.body.events['test.finished'].worse_by_percent === null ? true : undefined;
    });
  });
});
