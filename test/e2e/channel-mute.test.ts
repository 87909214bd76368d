import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { runCalls, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * Issue #22, mutes and replay in the web app: an owner mutes a channel for an hour, sees it
 * muted, sees the run's event skipped (muted) in the delivery log, unmutes, and mutes until a
 * chosen time; and redelivers a time range from the delivery log after the dry-run count.
 * Real server, real chromium, a real receiver that must get nothing while muted. Screenshots
 * in test-results/.
 */
const SHOTS = path.join(ROOT, 'test-results');

describe.skipIf(!existsSync(CHROMIUM))('muting a channel in the web app', () => {
  let t: TestServer;
  let r: Receiver;
  let browser: Browser;
  let page: Page;
  let loadTestId: number;
  const calls = runCalls(
    () => t,
    () => loadTestId,
  );
  const shot = (name: string) =>
    page.screenshot({ path: path.join(SHOTS, `channel-mute-${name}.png`), fullPage: true });

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    r = await startReceiver(() => ({ status: 204 }));
    ({ loadTestId } = await seedLoadTest(t));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    await signInAsOwner(page, t.url);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await r?.close();
    await t?.close();
  });

  it('mutes for an hour, shows it, skips the event, unmutes, and mutes until a chosen time', async () => {
    const made = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'Ops hook', url: r.url('/hook') },
    });
    const id = made.body.id as number;
    const channel = () => t.api('GET', `/api/v1/notification-channels/${id}`).then((res) => res.body);
    await page.goto(`${t.url}/integrations/${id}`);
    await page.getByText('Not muted').waitFor();

    const before = Date.now();
    await page.getByRole('button', { name: 'Mute for 1 hour' }).click();
    await page.getByRole('status').filter({ hasText: 'Muted until' }).waitFor();
    const muted = Date.parse((await channel()).muted_until);
    expect(muted).toBeGreaterThanOrEqual(before + 3_600_000 - 1000);
    expect(muted).toBeLessThanOrEqual(Date.now() + 3_600_000);
    await shot('muted');
    await page.goto(`${t.url}/integrations`);
    await page.locator('.badge', { hasText: 'Muted' }).waitFor();
    await shot('list');

    const run = await calls.run();
    expect((await calls.move(run.id, { status: 'running' })).status).toBe(200);
    await page.goto(`${t.url}/integrations/${id}/deliveries`);
    await page.getByText('Skipped').first().waitFor();
    await shot('log');
    expect(r.requests).toHaveLength(0);

    await page.goto(`${t.url}/integrations/${id}`);
    await page.getByRole('button', { name: 'Unmute' }).click();
    await page.getByText('Not muted').waitFor();
    expect((await channel()).muted_until).toBeNull();

    // Until a chosen time: tomorrow at 09:30, the browser's local time.
    const tomorrow = new Date(Date.now() + 86_400_000);
    tomorrow.setHours(9, 30, 0, 0);
    const pad = (n: number) => String(n).padStart(2, '0');
    const local = `${tomorrow.getFullYear()}-${pad(tomorrow.getMonth() + 1)}-${pad(tomorrow.getDate())}T09:30`;
    await page.getByLabel('Until').fill(local);
    await page.getByRole('button', { name: 'Mute until then' }).click();
    await page.getByRole('status').filter({ hasText: 'Muted until' }).waitFor();
    await eventually(async () => ((await channel()).muted_until ? true : undefined));
    expect(Date.parse((await channel()).muted_until)).toBe(tomorrow.getTime());
    await shot('until');
  });

  it('replays a time range from the delivery log after showing the dry-run count', async () => {
    const made = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'Replayed hook', url: r.url('/replayed') },
    });
    const id = made.body.id as number;
    await t.api('PATCH', `/api/v1/notification-channels/${id}`, {
      body: { muted_until: new Date(Date.now() + 3_600_000).toISOString() },
    });
    const run = await calls.run();
    await calls.move(run.id, { status: 'running' });
    await t.api('PATCH', `/api/v1/notification-channels/${id}`, { body: { muted_until: null } });
    const toThisHook = () => r.requests.filter((q) => q.url === '/replayed');

    await page.goto(`${t.url}/integrations/${id}/deliveries`);
    await page.getByText('Skipped').first().waitFor();
    await page.getByRole('button', { name: 'Redeliver a time range' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('No delivery matches').waitFor(); // failed only, by default
    await dialog.getByLabel('Skipped (muted)').check();
    await dialog.getByText('1 delivery matches').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'channel-replay-dialog.png') });
    expect(toThisHook()).toHaveLength(0); // counting sent nothing
    await dialog.getByRole('button', { name: 'Redeliver 1' }).click();
    await page.getByText('1 redelivery queued.').waitFor();
    await eventually(async () => (toThisHook().length === 1 ? true : undefined));
    expect(toThisHook()[0]!.headers['x-loadimpact-event']).toBe('test.started');
  });
});
