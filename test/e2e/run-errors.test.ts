import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * The run page shows what a run reported going wrong (issue 21): the runner's last stderr
 * lines, oldest first, then what the exit meant with its code; text that looks like markup
 * stays text. Real chromium against the real server; the screenshot lands in
 * test-results/run-errors.png.
 */

const SHOTS = path.join(ROOT, 'test-results');

describe.skipIf(!existsSync(CHROMIUM))('errors on the run page', () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  let loadTestId: number;

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite');
    ({ loadTestId } = await seedLoadTest(t));
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

  it('lists the error lines oldest first, the exit code with its line, as text', async () => {
    const created = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      body: { trigger: 'api' },
    });
    const long = `Error: request to https://user:****@shop.example/checkout failed ${'x'.repeat(200)}`;
    const ended = await t.api('POST', `/api/v1/runs/${created.body.id}/status`, {
      body: {
        status: 'aborted_by_system',
        errors: [
          { detail: 'connecting with token ****' },
          { detail: '<b>Error</b>: connect ECONNREFUSED 127.0.0.1:9' },
          { detail: long },
          { code: 1, detail: 'the command exited with 1' },
        ],
      },
    });
    expect(ended.status, JSON.stringify(ended.body)).toBe(200);
    await page.goto(`${t.url}/runs/${created.body.id}`);
    const section = page.getByRole('region', { name: 'Errors' });
    await section.waitFor();
    const items = section.getByRole('listitem');
    expect(await items.allInnerTexts()).toEqual([
      'connecting with token ****',
      '<b>Error</b>: connect ECONNREFUSED 127.0.0.1:9',
      long,
      'the command exited with 1 (code 1)',
    ]);
    expect(await section.locator('b').count()).toBe(0);
    // A long line wraps inside the card instead of widening the page.
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(1280);
    await page.screenshot({ path: path.join(SHOTS, 'run-errors.png'), fullPage: true });
  });

  it('a run with no errors has no Errors section', async () => {
    const created = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    await t.api('POST', `/api/v1/runs/${created.body.id}/status`, {
      body: { status: 'finished', result: 'passed' },
    });
    await page.goto(`${t.url}/runs/${created.body.id}`);
    await page.getByRole('region', { name: 'Status' }).waitFor();
    expect(await page.getByRole('region', { name: 'Errors' }).count()).toBe(0);
  });
});
