import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { axeProblems } from './axe.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * The GitHub and GitLab types as a person meets them (issue 22): cards on the Integrations page,
 * and a GitHub channel created through the form built from the catalogue, its token write-only.
 * Real server, real chromium; screenshots in test-results/.
 */

const SHOTS = path.join(ROOT, 'test-results');
const TOKEN = 'github_pat_11FORMTEST0abcdefghijklmnopqrstuvwxyz';

describe.skipIf(!existsSync(CHROMIUM))('GitHub and GitLab in the web app', () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  const shot = (name: string) =>
    page.screenshot({ path: path.join(SHOTS, `forge-${name}.png`), fullPage: true });

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    await signInAsOwner(page, t.url);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('lists both types and creates a GitHub channel through its form', async () => {
    await page.goto(`${t.url}/integrations`);
    await page.getByText('A commit status on the run’s commit (pending, then success or failure').waitFor();
    await page.getByText('A commit status on the run’s commit (running, then success or failed').waitFor();
    await shot('integrations');

    // GitLab's form reads the same way, with its own words.
    await page.goto(`${t.url}/integrations/new/gitlab`);
    await page.getByText('The GitLab instance’s address, without /api/v4. Left empty: gitlab.com.').waitFor();
    await page.getByLabel('Comment on merge requests').waitFor();
    expect(await axeProblems(page), 'gitlab form').toEqual([]);
    await shot('gitlab-form');

    await page.goto(`${t.url}/integrations/new/github`);
    await page.getByRole('button', { name: 'Save Changes' }).waitFor();
    await page.getByText('GitHub Enterprise Server: https://HOST/api/v3').waitFor();
    await page.getByLabel('Name').fill('Shop commits');
    await page.getByLabel('Access token').fill(TOKEN);
    await page.getByLabel('Repositories').fill('acme/shop, acme/web');
    await page.getByLabel('Comment on pull requests').check();
    // A commit status has no status number: the webhook's numbering is not asked for.
    expect(await page.getByLabel('Status scheme').count()).toBe(0);
    await shot('github-form');
    expect(await axeProblems(page), 'github form').toEqual([]);
    await page.getByRole('button', { name: 'Save Changes' }).click();

    const saved = await (async () => {
      for (let i = 0; i < 100; i++) {
        const list = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
        const found = list.body.items.find((c: { name: string }) => c.name === 'Shop commits');
        if (found) return found;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the channel was not saved');
    })();
    expect(saved).toMatchObject({
      type: 'github',
      // The default API URL, shown by the redaction rule every URL follows.
      url: 'https://api.github.com/****',
      config: { pull_request_comments: true, repositories: ['acme/shop', 'acme/web'] },
      secrets_set: ['token'],
    });
    // Write-only: the page of the saved channel never holds the token.
    await page.waitForURL(new RegExp(`/integrations/${saved.id}$`));
    await page.getByRole('button', { name: 'Save Changes' }).waitFor();
    await shot('github-saved');
    expect(await page.content()).not.toContain(TOKEN);

    // Nor is it listed with one; a webhook is.
    const hook = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'Shop hook', url: 'https://hooks.example.com/shop' },
    });
    expect(hook.status).toBe(201);
    await page.goto(`${t.url}/integrations`);
    const row = (name: string) => page.getByRole('listitem').filter({ hasText: name });
    await row('Shop hook').getByText('k6 status codes').waitFor();
    await shot('integrations-listed');
    expect(await row('Shop commits').getByText('status codes').count()).toBe(0);
  });
});
