import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * Issue 21: the run page shows the run's figures next to the run it was compared with, and
 * pins it as the load test's baseline. Real chromium against the real server; the screenshot
 * lands in test-results/run-comparison.png.
 */
const SHOTS = path.join(ROOT, 'test-results');

describe.skipIf(!existsSync(CHROMIUM))('run comparison in the web app', () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  let loadTestId: number;

  const finish = async (p95: number, failureRate: number) => {
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
    const summary = {
      requests: 1000,
      failure_rate: failureRate,
      p95_ms: p95,
      request_rate: 40,
      checks: 0.99,
    };
    await t.api('POST', `/api/v1/runs/${run.body.id}/status`, {
      body: { status: 'finished', result: 'passed', summary },
    });
    return run.body.id as number;
  };

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite');
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' }));
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

  it('shows each figure next to the previous run’s with its change, and pins the run as the baseline', async () => {
    const first = await finish(350, 0.01);
    const second = await finish(413, 0.02);
    await page.goto(`${t.url}/runs/${second}`);
    const section = page.getByRole('region', { name: 'Compared with an earlier run' });
    await section.getByRole('link', { name: `the previous finished run, #${first}` }).waitFor();
    const p95 = section.getByRole('row', { name: /p95 duration/ });
    expect(await p95.innerText()).toMatch(/413\.0 ms\s+350\.0 ms\s+\+63\.0 ms \(\+18%\)/);
    const failures = section.getByRole('row', { name: /Failure rate/ });
    expect(await failures.innerText()).toMatch(/2\.00 %\s+1\.00 %\s+\+1\.00 pts \(\+100%\)/);

    await section.getByRole('button', { name: 'Pin as baseline' }).click();
    await section.getByText('This run is the load test’s baseline').waitFor();
    expect((await t.api('GET', `/api/v1/load-tests/${loadTestId}`)).body.baseline_run_id).toBe(second);
    await page.screenshot({ path: path.join(SHOTS, 'run-comparison.png'), fullPage: true });

    const third = await finish(300, 0.01);
    await page.goto(`${t.url}/runs/${third}`);
    await section.getByRole('link', { name: `the baseline, run #${second}` }).waitFor();
    expect(await section.getByRole('row', { name: /p95 duration/ }).innerText()).toMatch(
      /−113\.0 ms \(−27\.4%\)/,
    );
  });
});
