import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { axeProblems } from './axe.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * Issue 21, the trend: the load test page charts its last runs (p95, failure rate, request
 * rate; a marker per run by result; the baseline dashed and labelled) and the run page marks
 * where the run sits. Real chromium against the real server; screenshots in test-results/trend-*.png.
 */
const SHOTS = path.join(ROOT, 'test-results');

describe.skipIf(!existsSync(CHROMIUM))('trend chart in the web app', () => {
  let t: TestServer;
  let browser: Browser;
  let desktop: BrowserContext;
  let page: Page;
  let loadTestId: number;
  const ids: number[] = [];

  const ended = async (loadTest: number, end: Record<string, unknown>) => {
    const run = await t.api('POST', `/api/v1/load-tests/${loadTest}/runs`, { body: {} });
    await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
    const done = await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: end });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    return run.body.id as number;
  };
  const summary = (p95: number, failureRate: number, rate: number) => ({
    requests: 2000,
    failure_rate: failureRate,
    p95_ms: p95,
    request_rate: rate,
    checks: 0.99,
  });
  /** A signed-in page at the given width, sharing the desktop session. */
  const pageAt = async (width: number) => {
    if (width === 1280) return page;
    const c = await browser.newContext({ viewport: { width, height: 844 } });
    c.setDefaultTimeout(10_000);
    await c.addCookies(await desktop.cookies());
    return c.newPage();
  };
  const overflow = (p: Page) =>
    p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  /** How many pixels of each canvas under `region` are drawn in `rgb` (within a small tolerance). */
  const inked = (p: Page, region: string, rgb: [number, number, number]) =>
    p
      .getByRole('region', { name: region })
      .locator('canvas')
      .evaluateAll((canvases, [r, g, b]) => {
        return (canvases as HTMLCanvasElement[]).map((c) => {
          const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 0; i < data.length; i += 4)
            if (
              Math.abs(data[i]! - r!) < 12 &&
              Math.abs(data[i + 1]! - g!) < 12 &&
              Math.abs(data[i + 2]! - b!) < 12 &&
              data[i + 3]! > 200
            )
              n++;
          return n;
        });
      }, rgb);
  const FAILED: [number, number, number] = [0xa1, 0x1b, 0x1b];
  const PASSED: [number, number, number] = [0x13, 0x63, 0x2e];
  const BASELINE: [number, number, number] = [0x7a, 0x4a, 0x00];

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite');
    ({ loadTestId } = await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' }));
    // A slow drift: p95 creeps up, the request rate down; one run fails its thresholds, one is
    // aborted with the figures so far, one finishes without figures (not on the chart).
    const plan: [number, number, number, string][] = [
      [300, 0.004, 52, 'passed'],
      [306, 0.005, 51, 'passed'],
      [318, 0.004, 50, 'passed'],
      [331, 0.006, 49, 'passed'],
      [0, 0, 0, 'bare'],
      [352, 0.021, 47, 'failed'],
      [347, 0.007, 46, 'aborted'],
      [366, 0.008, 45, 'passed'],
      [381, 0.009, 44, 'passed'],
      [404, 0.011, 42, 'passed'],
    ];
    for (const [p95, failures, rate, how] of plan) {
      const s = summary(p95, failures, rate);
      ids.push(
        await ended(
          loadTestId,
          how === 'bare'
            ? { status: 'finished', result: 'passed' }
            : how === 'aborted'
              ? { status: 'aborted_by_system', summary: s }
              : { status: 'finished', result: how, summary: s },
        ),
      );
    }
    const pinned = await t.api('PUT', `/api/v1/load-tests/${loadTestId}/baseline`, {
      body: { run_id: ids[1] },
    });
    expect(pinned.status).toBe(200);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    desktop.setDefaultTimeout(10_000);
    page = await desktop.newPage();
    await signInAsOwner(page, t.url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('draws the last runs on the load test page, with the baseline, a caption, values and a table, at 1280 and 390 px', async () => {
    const first = ids[0]!;
    const last = ids[ids.length - 1]!;
    for (const width of [1280, 390]) {
      const p = await pageAt(width);
      await p.goto(`${t.url}/load-tests/${loadTestId}`);
      const trend = p.getByRole('region', { name: 'Trend' });
      await trend.locator('canvas').first().waitFor();
      expect(await trend.locator('canvas').count()).toBe(3);
      // Command schedules are off on this server and none is set: said, with no form to fill.
      const schedule = p.getByRole('region', { name: 'Schedule' });
      await schedule.getByText('Command schedules are off on this server').waitFor();
      expect(await schedule.getByLabel('Cron expression').count()).toBe(0);
      expect(
        await trend.getByRole('img').evaluateAll((e) => e.map((x) => x.getAttribute('aria-label'))),
      ).toEqual([
        `p95 duration of runs #${first} to #${last}: lowest 300.0 ms, highest 404.0 ms`,
        `Failure rate of runs #${first} to #${last}: lowest 0.40 %, highest 2.10 %`,
        `Request rate of runs #${first} to #${last}: lowest 42.0/s, highest 52.0/s`,
      ]);
      const caption = await trend.locator('.trend-caption').innerText();
      expect(caption).toContain(`Last 9 runs with figures (#${first} to #${last}, `);
      expect(caption).toContain('p95 duration from 300.0 ms to 404.0 ms');
      expect(caption).toContain('failure rate from 0.40 % to 1.10 %');
      expect(caption).toContain('request rate from 52.0/s to 42.0/s');
      expect(caption).toContain('7 passed, 1 failed, 1 without a result.');
      expect(caption).toContain(`Baseline: run #${ids[1]}, p95 306.0 ms.`);
      const key = trend.getByRole('list', { name: 'Markers' });
      expect(await key.innerText()).toMatch(/Passed\s+▲ Failed\s+○ No result\s+◇ Baseline, run #\d+/);
      await key.getByRole('link', { name: `run #${ids[1]}` }).waitFor();
      // The readouts show the newest run until the pointer points at another.
      const readout = trend.getByTestId('trend-readout');
      expect(await readout.innerText()).toMatch(new RegExp(`^Run #${last}: passed, ended `));
      const values = () => trend.locator('.trend-value').allInnerTexts();
      expect(await values()).toEqual(['404.0 ms', '1.10 %', '42.0/s']);
      // Drawn, not only laid out: the failed run's triangle, the passed runs' dots and the
      // baseline's dashed line are on every chart.
      for (const [what, colour] of [
        ['failed', FAILED],
        ['passed', PASSED],
        ['baseline', BASELINE],
      ] as const)
        for (const [i, n] of (await inked(p, 'Trend', colour)).entries())
          expect(n, `${what} on chart ${i} at ${width}`).toBeGreaterThan(10);
      expect(await overflow(p), `page wider than ${width} px`).toBeLessThanOrEqual(0);
      expect(await axeProblems(p)).toEqual([]);
      await p.evaluate(() => window.scrollTo(0, 0));
      await p.screenshot({ path: path.join(SHOTS, `trend-${width}.png`), fullPage: true });
      await trend.screenshot({ path: path.join(SHOTS, `trend-chart-${width}.png`) });

      // Pointing at the first run's place on the p95 chart shows its figures.
      const canvas = trend.locator('.trend-canvas').first();
      const box = (await canvas.locator('.u-over').boundingBox())!;
      await p.mouse.move(box.x + box.width / 18, box.y + box.height / 2);
      await expect.poll(() => readout.innerText()).toMatch(new RegExp(`^Run #${first}: passed`));
      expect(await values()).toEqual(['300.0 ms', '0.40 %', '52.0/s']);
      await p.mouse.move(0, 0);
      await expect.poll(() => readout.innerText()).toMatch(new RegExp(`^Run #${last}:`));

      await trend.getByText('Figures of these runs as a table').click();
      const row = trend.getByRole('row', { name: new RegExp(`#${ids[1]} \\(baseline\\)`) });
      expect(await row.innerText()).toMatch(/Passed\s+306\.0 ms\s+0\.50 %\s+51\.0\/s/);
      const aborted = trend.getByRole('row', { name: new RegExp(`#${ids[6]}`) });
      expect(await aborted.innerText()).toMatch(/Aborted by system\s+347\.0 ms/);
      if (p !== page) await p.context().close();
    }
  }, 90_000);

  it('marks the run on its own page, the window ending at it when it is older than the last runs', async () => {
    const failed = ids[5]!;
    for (const width of [1280, 390]) {
      const p = await pageAt(width);
      await p.goto(`${t.url}/runs/${failed}`);
      const trend = p.getByRole('region', { name: 'Where this run sits' });
      await trend.locator('canvas').first().waitFor();
      expect(await trend.locator('canvas').count()).toBe(3);
      expect(await trend.getByRole('list', { name: 'Markers' }).innerText()).toContain('This run');
      expect(await trend.getByTestId('trend-readout').innerText()).toMatch(
        new RegExp(`^Run #${failed}: failed, ended `),
      );
      expect(await trend.locator('.trend-caption').innerText()).toContain(
        'This run’s p95 is higher than that of 5 of the other 8 runs.',
      );
      expect(await trend.locator('.trend-value').allInnerTexts()).toEqual(['352.0 ms', '2.10 %', '47.0/s']);
      // The band behind this run is drawn on each chart.
      const band = await trend.locator('canvas').evaluateAll((cs) =>
        (cs as HTMLCanvasElement[]).map((c) => {
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 0; i < d.length; i += 4)
            // rgba(39, 87, 214, 0.12) on the transparent canvas.
            if (
              Math.abs(d[i]! - 39) < 8 &&
              Math.abs(d[i + 1]! - 87) < 8 &&
              Math.abs(d[i + 2]! - 214) < 8 &&
              d[i + 3]! > 20 &&
              d[i + 3]! < 45
            )
              n++;
          return n;
        }),
      );
      for (const n of band) expect(n).toBeGreaterThan(100);
      expect(await overflow(p), `page wider than ${width} px`).toBeLessThanOrEqual(0);
      expect(await axeProblems(p)).toEqual([]);
      await p.screenshot({ path: path.join(SHOTS, `trend-run-${width}.png`), fullPage: true });
      await trend.screenshot({ path: path.join(SHOTS, `trend-run-chart-${width}.png`) });
      if (p !== page) await p.context().close();
    }

    // Pinned here, the baseline moves on the chart below at once.
    await page.goto(`${t.url}/runs/${failed}`);
    const here = page.getByRole('region', { name: 'Where this run sits' });
    await here.locator('canvas').first().waitFor();
    await page
      .getByRole('region', { name: 'Compared with an earlier run' })
      .getByRole('button', { name: 'Pin as baseline' })
      .click();
    await here
      .getByRole('list', { name: 'Markers' })
      .getByRole('link', { name: `run #${failed}` })
      .waitFor();
    expect(await here.locator('.trend-caption').innerText()).toContain(
      `Baseline: run #${failed}, p95 352.0 ms.`,
    );

    // A run without figures sits nowhere: its page has no trend.
    const read = page.waitForResponse((r) => r.url().includes('/trend'));
    await page.goto(`${t.url}/runs/${ids[4]}`);
    expect((await read).status()).toBe(200);
    await page.getByRole('heading', { name: 'Notifications' }).waitFor();
    expect(await page.getByRole('region', { name: 'Where this run sits' }).count()).toBe(0);

    // Older than the last 20 runs: the chart ends at it.
    for (let i = 0; i < 20; i++)
      await ended(loadTestId, { status: 'finished', result: 'passed', summary: summary(410 + i, 0.01, 41) });
    await page.goto(`${t.url}/runs/${failed}`);
    const trend = page.getByRole('region', { name: 'Where this run sits' });
    await trend.locator('canvas').first().waitFor();
    expect(await trend.getByTestId('trend-readout').innerText()).toMatch(new RegExp(`^Run #${failed}:`));
    expect(await trend.locator('.trend-caption').innerText()).toContain(`(#${ids[0]} to #${failed}, `);
  }, 90_000);

  it('says when there is not yet a trend to draw, and draws it when a second run ends', async () => {
    const { loadTestId: fresh } = await seedLoadTest(t, { project: 'Blog', loadTest: 'Search' });
    await ended(fresh, { status: 'finished', result: 'passed', summary: summary(200, 0, 10) });
    await page.goto(`${t.url}/load-tests/${fresh}`);
    const trend = page.getByRole('region', { name: 'Trend' });
    await trend.getByText('The trend appears here once two runs have ended with figures').waitFor();
    expect(await trend.innerText()).toContain('one has so far');
    expect(await trend.locator('canvas').count()).toBe(0);

    // A run that ends while the page is open (it polls unended runs) draws the trend.
    const run = await t.api('POST', `/api/v1/load-tests/${fresh}/runs`, { body: {} });
    await t.api('POST', `/api/v1/runs/${run.body.id}/status`, { body: { status: 'running' } });
    await page.goto(`${t.url}/load-tests/${fresh}`);
    await page.getByRole('link', { name: `Run #${run.body.id}` }).waitFor();
    await trend.getByText('one has so far').waitFor();
    await t.api('POST', `/api/v1/runs/${run.body.id}/status`, {
      body: { status: 'finished', result: 'failed', summary: summary(260, 0.02, 9) },
    });
    await trend.locator('canvas').first().waitFor();
    expect(await trend.locator('.trend-caption').innerText()).toContain(
      'p95 duration from 200.0 ms to 260.0 ms',
    );
  }, 30_000);
});
