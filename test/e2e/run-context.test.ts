import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * The run page shows where a run came from (issue 21): the commit and the CI job as links to
 * them, the branch, pull request and labels; text that looks like markup stays text. Real
 * chromium against the real server; the screenshot lands in test-results/run-context.png.
 */

const SHOTS = path.join(ROOT, 'test-results');

describe.skipIf(!existsSync(CHROMIUM))('run context on the run page', () => {
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

  it('links the commit, pull request and CI job, and shows branch and labels as text', async () => {
    const sha = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    const created = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      body: {
        trigger: 'api',
        context: {
          vcs: {
            sha,
            branch: '<b>feature</b>',
            repository: 'https://github.com/acme/shop',
            pull_request: 42,
          },
          ci: { provider: 'github_actions', job_url: 'https://github.com/acme/shop/actions/runs/987' },
          labels: { env: 'staging', region: 'eu-west' },
        },
      },
    });
    expect(created.status).toBe(201);
    await page.goto(`${t.url}/runs/${created.body.id}`);
    const source = page.getByRole('region', { name: 'Source' });
    await source.waitFor();

    const commit = source.getByRole('link', { name: 'a1b2c3d4e5f6' });
    expect(await commit.getAttribute('href')).toBe(`https://github.com/acme/shop/commit/${sha}`);
    expect(await commit.getAttribute('rel')).toBe('noopener noreferrer');
    const job = source.getByRole('link', { name: 'GitHub Actions' });
    expect(await job.getAttribute('href')).toBe('https://github.com/acme/shop/actions/runs/987');
    const pr = source.getByRole('link', { name: '#42' });
    expect(await pr.getAttribute('href')).toBe('https://github.com/acme/shop/pull/42');
    // The branch is text as typed, not markup.
    await expect(source.getByText('<b>feature</b>', { exact: true }).count()).resolves.toBe(1);
    expect(await source.locator('b').count()).toBe(0);
    await expect(source.getByText('env=staging').count()).resolves.toBe(1);
    await expect(source.getByText('region=eu-west').count()).resolves.toBe(1);
    await page.screenshot({ path: path.join(SHOTS, 'run-context.png'), fullPage: true });
  });

  it('a run with no context has no Source section; a job with only a provider is not a link', async () => {
    const bare = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    await page.goto(`${t.url}/runs/${bare.body.id}`);
    await page.getByRole('heading', { name: /run #/ }).waitFor();
    expect(await page.getByRole('region', { name: 'Source' }).count()).toBe(0);

    const providerOnly = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, {
      body: { context: { ci: { provider: 'jenkins' }, vcs: { sha: 'abcdef1' } } },
    });
    await page.goto(`${t.url}/runs/${providerOnly.body.id}`);
    const source = page.getByRole('region', { name: 'Source' });
    await source.waitFor();
    expect(await source.getByRole('link').count()).toBe(0);
    await expect(source.getByText('Jenkins', { exact: true }).count()).resolves.toBe(1);
    await expect(source.getByText('abcdef1', { exact: true }).count()).resolves.toBe(1);
  });
});
