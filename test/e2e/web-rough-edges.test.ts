import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * The web app's rough edges a new user met (issue 19), each as the user meets it in a real
 * browser against the real server and a real receiver on loopback. Screenshots at 1280 and
 * 390 px land in test-results/.
 */

const SHOTS = path.join(ROOT, 'test-results');

/** A webhook receiver on loopback answering `status.code`, counting what it got. */
async function startReceiver() {
  const got: { event: string | undefined }[] = [];
  const status = { code: 200 };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      got.push({ event: req.headers['x-loadimpact-event'] as string | undefined });
      res.writeHead(status.code, { 'content-type': 'text/plain' }).end(status.code < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/load-tests`,
    got,
    status,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.skipIf(!existsSync(CHROMIUM))('web app rough edges (issue 19)', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let browser: Browser;
  let desktop: BrowserContext;
  let page: Page;

  const newContext = async (width: number, height: number) => {
    const c = await browser.newContext({ viewport: { width, height } });
    c.setDefaultTimeout(10_000);
    return c;
  };
  /** A signed-in page at the given width, sharing the desktop session. */
  const pageAt = async (width: number) => {
    const c = await newContext(width, 844);
    await c.addCookies(await desktop.cookies());
    return c.newPage();
  };
  // From the top: a full-page capture keeps the scroll position, and the sticky menu would
  // be drawn wherever the page was scrolled to.
  const shot = async (name: string, p: Page = page) => {
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: path.join(SHOTS, `rough-${name}.png`), fullPage: true });
  };

  /** How far the document is wider than the viewport (0 or less: it fits). */
  const overflow = (p: Page) =>
    p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

  const channel = async (name: string, url = receiver.url) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name, url },
    });
    expect(res.status).toBe(201);
    return res.body as { id: number };
  };

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    receiver = await startReceiver();
    t = await startTestServer('sqlite', {
      env: {
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        // The setup user is instance administrator; schedules may start node.
        LOADNOTIFY_SCHEDULE_COMMANDS: process.execPath,
        LOADNOTIFY_SCHEDULE_DIR: tmpdir(),
        ...(process.getuid?.() === 0 ? { LOADNOTIFY_SCHEDULE_USER: 'nobody' } : {}),
      },
    });
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
    await receiver?.close();
  });

  it('the run page lists the notifications of a status change made on the page, in one order', async () => {
    const { loadTestId } = await seedLoadTest(t, { project: 'Live', loadTest: 'Live test' });
    const hook = await channel('Live hook');
    const run = (await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} })).body as {
      id: number;
    };
    await page.goto(`${t.url}/runs/${run.id}`);
    const notifications = page.getByRole('region', { name: 'Notifications of this run' });
    const events = async () =>
      (await notifications.locator('tbody tr').allTextContents()).map((row) =>
        row.includes('Test started') ? 'started' : row.includes('Test finished') ? 'finished' : row,
      );

    await page.getByLabel('New status').selectOption('running');
    await page.getByRole('button', { name: 'Update status' }).click();
    await notifications.getByText('Delivered').waitFor();
    await page.getByLabel('New status').selectOption('finished');
    await page.getByRole('button', { name: 'Update status' }).click();
    await page.getByRole('heading', { name: /Status\s+✓?\s*Finished/ }).waitFor();
    // Without a reload: the page said it updates automatically.
    await notifications
      .getByRole('row')
      .filter({ hasText: 'Test finished' })
      .getByText('Delivered')
      .waitFor();
    expect(await events()).toEqual(['started', 'finished']);
    await shot('run-page-1280');

    await page.reload();
    await notifications.getByRole('row').filter({ hasText: 'Test finished' }).waitFor();
    expect(await events()).toEqual(['started', 'finished']);
    expect(receiver.got.filter((g) => g.event?.startsWith('test.')).length).toBeGreaterThanOrEqual(2);

    const phone = await pageAt(390);
    await phone.goto(`${t.url}/runs/${run.id}`);
    await phone.getByRole('region', { name: 'Notifications of this run' }).waitFor();
    await shot('run-page-390', phone);
    await phone.context().close();
    await t.api('DELETE', `/api/v1/notification-channels/${hook.id}`);
  }, 90_000);

  it('long unbroken names do not widen any page, at 1280 and at 390 px', async () => {
    const long = (c: string) => c.repeat(200);
    const { projectId, loadTestId } = await seedLoadTest(t, { project: long('P'), loadTest: long('L') });
    const hook = await channel(long('C'));
    const run = (await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} })).body as {
      id: number;
    };
    // Each page, and a long name it shows once loaded.
    const chooseProjects = (p: Page) => p.getByLabel('Only the projects chosen below').check();
    const pages: [string, string, string, ((p: Page) => Promise<void>)?][] = [
      ['projects', '/projects', long('P')],
      ['project', `/projects/${projectId}`, long('L')],
      ['load-test', `/load-tests/${loadTestId}`, `Run #${run.id}`],
      ['run', `/runs/${run.id}`, long('P')],
      ['runs', '/runs', long('L')],
      ['integrations', '/integrations', long('C')],
      ['channel', `/integrations/${hook.id}`, long('P'), chooseProjects],
      ['new-channel', '/integrations/new/webhook', long('P'), chooseProjects],
      ['delivery-log', `/integrations/${hook.id}/deliveries`, 'Nothing has been sent'],
    ];
    const wider: string[] = [];
    for (const width of [1280, 390]) {
      const p = await pageAt(width);
      for (const [name, url, shown, action] of pages) {
        await p.goto(t.url + url);
        await action?.(p);
        await p.getByText(shown).first().waitFor();
        await shot(`long-names-${name}-${width}`, p);
        wider.push(`${name} at ${width} px: ${await overflow(p)}`);
      }
      await p.context().close();
    }
    expect(wider).toEqual(wider.map((w) => w.replace(/-?\d+$/, '0')));
    await t.api('DELETE', `/api/v1/notification-channels/${hook.id}`);
  }, 120_000);

  it('the delivery log says what a delivery waits for, that a failed test will be retried, and links redeliveries both ways', async () => {
    const dead = await startReceiver();
    dead.status.code = 500;
    const deadHook = await channel('Dead hook', dead.url);
    const { loadTestId } = await seedLoadTest(t, { project: 'Waits', loadTest: 'Waiting test' });

    // Test Hook against a receiver that answers 500: the first attempt failed, retries follow.
    await page.goto(`${t.url}/integrations/${deadHook.id}`);
    await page.getByRole('button', { name: 'Test Hook' }).click();
    const outcome = page.getByRole('status').filter({ hasText: 'HTTP 500' });
    await outcome.waitFor();
    expect(await outcome.textContent()).toMatch(/Failed, will retry at \d/);
    await shot('test-hook-will-retry-1280');

    // A run's test.finished waits behind its test.started, which the receiver keeps refusing.
    const run = (await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} })).body as {
      id: number;
    };
    for (const status of ['running', 'finished'])
      expect((await t.api('POST', `/api/v1/runs/${run.id}/status`, { body: { status } })).status).toBe(200);
    await page.goto(`${t.url}/integrations/${deadHook.id}/deliveries`);
    const finished = page.getByRole('row').filter({ hasText: 'Test finished' });
    await finished.getByText('Waiting for the run’s earlier notification to this channel').waitFor();
    const started = page.getByRole('row').filter({ hasText: 'Test started' });
    expect(await started.getByText('Waiting for').count()).toBe(0);
    await shot('delivery-log-waiting-1280');
    const phone = await pageAt(390);
    await phone.goto(`${t.url}/integrations/${deadHook.id}/deliveries`);
    await phone.getByText('Waiting for the run’s earlier notification to this channel').waitFor();
    await shot('delivery-log-waiting-390', phone);
    await finished.getByRole('link', { name: /Delivery #\d+ details/ }).click();
    await page.getByText('Waiting for the run’s earlier notification to this channel').waitFor();
    await t.api('DELETE', `/api/v1/notification-channels/${deadHook.id}`);
    await dead.close();

    // A redelivery names what it sends again, and the original lists its redeliveries.
    const hook = await channel('Redelivered hook');
    const tested = await t.api('POST', `/api/v1/notification-channels/${hook.id}/test`);
    expect(tested.body.outcome).toBe('delivered');
    const original = tested.body.delivery.id as number;
    await page.goto(`${t.url}/deliveries/${original}`);
    await page.getByRole('button', { name: 'Redeliver' }).click();
    await page.getByRole('link', { name: /^delivery #\d+$/ }).click();
    await page.getByRole('heading', { name: /^Delivery #\d+$/, level: 1 }).waitFor();
    const copy = Number(new URL(page.url()).pathname.split('/').pop());
    expect(copy).not.toBe(original);
    await page.getByRole('link', { name: `Delivery #${original}`, exact: true }).click();
    await page.getByRole('heading', { name: `Delivery #${original}`, level: 1 }).waitFor();
    await page.getByRole('link', { name: `Delivery #${copy}`, exact: true }).waitFor();
    await shot('delivery-redelivered-as-1280');
    await phone.goto(`${t.url}/deliveries/${copy}`);
    await phone.getByRole('link', { name: `Delivery #${original}`, exact: true }).waitFor();
    await shot('delivery-redelivery-of-390', phone);
    await page.goto(`${t.url}/integrations/${hook.id}/deliveries`);
    await page
      .getByRole('row')
      .filter({ has: page.getByRole('link', { name: `Delivery #${copy} details` }) })
      .getByText(`redelivery of #${original}`)
      .waitFor();
    await shot('delivery-log-redelivery-1280');
    await phone.context().close();
    await t.api('DELETE', `/api/v1/notification-channels/${hook.id}`);
  }, 90_000);

  it('a schedule shows its command as arguments, next runs on its own clock, and its started and skipped ticks', async () => {
    const { loadTestId } = await seedLoadTest(t, { project: 'Nightly', loadTest: 'Nightly test' });
    const command = [process.execPath, '-e', 'setTimeout(() => {}, 2500)'];
    const patch = (schedule: Record<string, unknown>) =>
      t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, { body: { schedule } });
    // Every second, each run lasting 2.5 s: one tick starts a run, the next ones find it going.
    expect(
      (await patch({ command, cron: '* * * * * *', timezone: 'Asia/Kolkata', enabled: true })).status,
    ).toBe(200);
    const ticks = async () =>
      (await t.api('GET', `/api/v1/load-tests/${loadTestId}/schedule-ticks`)).body.items as {
        outcome: string;
      }[];
    for (;;) {
      const seen = await ticks();
      if (seen.some((k) => k.outcome === 'started') && seen.some((k) => k.outcome === 'skipped')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // 03:00 in Kolkata is 21:30 UTC: the list shows the schedule's own clock, and says whose.
    expect((await patch({ cron: '0 3 * * *', enabled: false })).status).toBe(200);

    await page.goto(`${t.url}/load-tests/${loadTestId}`);
    const args = page.getByRole('list', { name: 'Program and its arguments' }).getByRole('listitem');
    await args.first().waitFor();
    expect(await args.allTextContents()).toEqual(command);
    await page.getByRole('heading', { name: /Next runs\s+in Asia\/Kolkata/ }).waitFor();
    const next = await page.getByRole('list', { name: 'Next runs' }).getByRole('listitem').allTextContents();
    expect(next).toHaveLength(3);
    for (const n of next) expect(n).toMatch(/\b3:00\b.*\(Asia\/Kolkata\)/);
    const tickRows = page.getByRole('region', { name: 'Recent ticks', exact: true }).getByRole('row');
    await tickRows
      .filter({ hasText: 'Started' })
      .first()
      .getByRole('link', { name: /Run #\d+/ })
      .waitFor();
    await tickRows.filter({ hasText: 'Skipped' }).first().waitFor();
    await shot('schedule-1280');
    const phone = await pageAt(390);
    await phone.goto(`${t.url}/load-tests/${loadTestId}`);
    await phone.getByRole('region', { name: 'Recent ticks', exact: true }).waitFor();
    await shot('schedule-390', phone);
    expect(await overflow(phone)).toBeLessThanOrEqual(0);
    await phone.context().close();
  }, 90_000);

  it('setting up in the web app creates no API token nobody was shown', async () => {
    const fresh = await startTestServer('sqlite', { setup: false });
    try {
      const phone = await newContext(390, 844);
      const p = await phone.newPage();
      await p.goto(fresh.url);
      await p.getByRole('heading', { name: 'Welcome to loadnotify' }).waitFor();
      await shot('setup-390', p);
      // Its own contexts: cookies go by host, not port, and the other server's session must stay.
      const desk = await newContext(1280, 900);
      const d = await desk.newPage();
      await d.goto(fresh.url);
      await d.getByRole('heading', { name: 'Welcome to loadnotify' }).waitFor();
      await shot('setup-1280', d);
      await desk.close();
      await p.getByLabel('Email').fill('first@example.com');
      await p.getByLabel('Password').fill('correct horse');
      await p.getByLabel('Organization name').fill('First');
      await p.getByRole('button', { name: 'Create account' }).click();
      await p.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
      await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API tokens' }).click();
      await p.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
      const tokens = await p.evaluate(() => fetch('/api/v1/tokens').then((r) => r.json()));
      expect(tokens.items).toEqual([]);
      await shot('setup-tokens-390', p);
      await phone.close();
    } finally {
      await fresh.close();
    }
  }, 90_000);

  it('a redacted URL shows scheme, host and a "rest hidden" marker, not stars that read like a path', async () => {
    const hook = await channel('Redacted hook');
    const apiUrl = (await t.api('GET', `/api/v1/notification-channels/${hook.id}`)).body.url as string;
    expect(apiUrl).toContain('****'); // the API's redacted form stays as it was
    const origin = new URL(receiver.url).origin;
    const shown = `${origin}/hooks/…`;
    const check = async (p: Page, where: ReturnType<Page['locator']>) => {
      const url = where.locator('.redacted-url').first();
      await url.waitFor();
      expect(await url.textContent()).toBe(`${shown} rest hidden`);
      expect(await where.textContent()).not.toContain('****');
    };
    for (const width of [1280, 390]) {
      const p = width === 1280 ? page : await pageAt(width);
      await p.goto(`${t.url}/integrations`);
      await check(p, p.getByRole('listitem', { name: 'Redacted hook' }));
      await shot(`redacted-integrations-${width}`, p);
      await p.goto(`${t.url}/integrations/${hook.id}/deliveries`);
      await check(p, p.locator('main'));
      await p.goto(`${t.url}/integrations/${hook.id}`);
      await check(p, p.getByRole('complementary', { name: 'Preview' }));
      await shot(`redacted-channel-${width}`, p);
      if (p !== page) await p.context().close();
    }
    await t.api('DELETE', `/api/v1/notification-channels/${hook.id}`);
  }, 90_000);

  it('runs and tokens read as lists on a phone; "Run #N" stays on one line on a desktop', async () => {
    const name = 'Checkout flow with a long descriptive name '.repeat(4).trim();
    const { loadTestId } = await seedLoadTest(t, { project: 'Lists', loadTest: name });
    for (let i = 0; i < 2; i++)
      expect((await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} })).status).toBe(201);
    expect((await t.api('POST', '/api/v1/tokens', { body: { name: 'CI pipeline' } })).status).toBe(201);
    /** Lines each element's text takes (1: not wrapped). */
    const lines = (l: ReturnType<Page['locator']>) =>
      l.evaluateAll((els) =>
        els.map((e) => new Set([...e.getClientRects()].map((r) => Math.round(r.top))).size),
      );
    /** How far each element reaches past the viewport's right edge, and the frames' sideways scroll. */
    const beyond = (p: Page, selector: string) =>
      p.evaluate((sel) => {
        const vw = document.documentElement.clientWidth;
        const cells = [...document.querySelectorAll(sel)].map((e) =>
          Math.max(0, Math.ceil(e.getBoundingClientRect().right - vw)),
        );
        const frames = [...document.querySelectorAll('.table-wrap')].map(
          (w) => w.scrollWidth - w.clientWidth,
        );
        return { cells: Math.max(0, ...cells), count: cells.length, frames: Math.max(0, ...frames) };
      }, selector);

    await page.goto(`${t.url}/runs`);
    const runLinks = page.getByRole('region', { name: 'Runs of this organization' }).getByRole('link', {
      name: /^Run #\d+$/,
    });
    await runLinks.first().waitFor();
    expect(new Set(await lines(runLinks))).toEqual(new Set([1]));
    await shot('runs-1280');

    const phone = await pageAt(390);
    await phone.goto(`${t.url}/runs`);
    await phone
      .getByRole('link', { name: /^Run #\d+$/ })
      .first()
      .waitFor();
    // Result, Trigger and dates within the screen: nothing behind a sideways scroll.
    const runs = await beyond(phone, 'tbody td');
    expect(runs.count).toBeGreaterThan(0);
    expect({ cells: runs.cells, frames: runs.frames }).toEqual({ cells: 0, frames: 0 });
    expect(await phone.getByText('Trigger', { exact: true }).first().isVisible()).toBe(true);
    await shot('runs-390', phone);

    await phone.goto(`${t.url}/tokens`);
    const revoke = phone.getByRole('button', { name: 'Revoke CI pipeline' });
    await revoke.waitFor();
    const tokens = await beyond(phone, 'tbody td, tbody button');
    expect({ cells: tokens.cells, frames: tokens.frames }).toEqual({ cells: 0, frames: 0 });
    await shot('tokens-390', phone);
    await page.goto(`${t.url}/tokens`);
    await page.getByRole('button', { name: 'Revoke CI pipeline' }).waitFor();
    await shot('tokens-1280');
    await phone.context().close();
  }, 90_000);
});
