import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startReceiver, type Receiver } from '../helpers/receiver.js';
import { addMember, runCalls, seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * Issue #22, operators hear when notifications fail, in the web app: a channel disabled by its
 * receiver's 410s shows a banner on every page for owners and admins, linking to the channel,
 * until dismissed; members see none. The Integrations page sets the operations channel. Real
 * server, real chromium, a real receiver. Screenshots in test-results/.
 */
const SHOTS = path.join(ROOT, 'test-results');

describe.skipIf(!existsSync(CHROMIUM))('operator alerts in the web app', () => {
  let t: TestServer;
  let dead: Receiver;
  let ops: Receiver;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let loadTestId: number;
  const calls = runCalls(
    () => t,
    () => loadTestId,
  );
  const shot = (p: Page, name: string) =>
    p.screenshot({ path: path.join(SHOTS, `operator-alerts-${name}.png`), fullPage: true });

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    dead = await startReceiver(() => ({ status: 410, body: 'this hook was deleted' }));
    ops = await startReceiver(() => ({ status: 204 }));
    ({ loadTestId } = await seedLoadTest(t));
    await addMember(t, 'member@example.com', 'member');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    await signInAsOwner(page, t.url);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await dead?.close();
    await ops?.close();
    await t?.close();
  });

  const channelsUrl = () => `/api/v1/organizations/${t.organizationId}/notification-channels`;

  it('sets the operations channel on the Integrations page', async () => {
    const made = await t.api('POST', channelsUrl(), {
      body: { type: 'webhook', name: 'Ops room', url: ops.url('/ops') },
    });
    await page.goto(`${t.url}/integrations`);
    await page.getByLabel('Also tell this channel').selectOption({ label: 'Ops room' });
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    await shot(page, 'integrations');
    const org = await t.api('GET', `/api/v1/organizations/${t.organizationId}`);
    expect(org.body.operations_channel_id).toBe(made.body.id);
  });

  it('shows owners a banner on every page once a channel is disabled, linking to it; dismissed, it goes', async () => {
    const made = await t.api('POST', channelsUrl(), {
      body: { type: 'webhook', name: 'Dead hook', url: dead.url('/gone') },
    });
    const id = made.body.id as number;
    for (let i = 0; i < 2; i++) {
      const run = await calls.run();
      await calls.move(run.id, { status: 'running' });
      await calls.move(run.id, { status: 'finished', result: 'passed' });
    }
    await eventually(async () => {
      const c = await t.api('GET', `/api/v1/notification-channels/${id}`);
      return c.body.enabled === false ? true : undefined;
    });

    await page.goto(`${t.url}/projects`);
    const banner = page.getByRole('region', { name: /notification channel/i });
    await banner.getByText('was disabled').waitFor();
    await banner.getByText(/disabled after 3 deliveries failed in a row; last: HTTP 410/).waitFor();
    await shot(page, 'projects');

    // Another page has it too; its link opens the channel.
    await page.goto(`${t.url}/runs`);
    await banner.getByRole('link', { name: 'Dead hook' }).click();
    await page.waitForURL(`${t.url}/integrations/${id}`);
    await banner.getByText('was disabled').waitFor();
    await shot(page, 'channel');

    // The operations channel heard it as JSON.
    const heard = await eventually(async () =>
      ops.requests.find((r) => r.headers['x-loadimpact-event'] === 'notification_channel.alert'),
    );
    expect(JSON.parse(heard.body).alert.channel).toMatchObject({ id, name: 'Dead hook' });

    // A member, who cannot fix channels, sees no banner.
    const memberContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const memberPage = await memberContext.newPage();
      await memberPage.goto(t.url);
      await memberPage.getByLabel('Email').fill('member@example.com');
      await memberPage.getByLabel('Password').fill('password123');
      await memberPage.getByRole('button', { name: 'Sign in' }).click();
      await memberPage.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
      await memberPage.goto(`${t.url}/integrations/${id}`);
      await memberPage.getByRole('heading', { level: 1 }).waitFor();
      await new Promise((r) => setTimeout(r, 500));
      expect(await memberPage.getByRole('region', { name: /notification channel/i }).count()).toBe(0);
      await shot(memberPage, 'member');
    } finally {
      await memberContext.close();
    }

    // One line for the channel (the failures that led to it are folded in); dismissed, it goes.
    const open = await t.api('GET', `/api/v1/organizations/${t.organizationId}/alerts`);
    expect(open.body.items).toHaveLength(1);
    expect(await banner.getByRole('listitem').count()).toBe(1);
    await banner.getByRole('button', { name: 'Dismiss the alert about Dead hook' }).click();
    await banner.waitFor({ state: 'detached' });
    await shot(page, 'dismissed');
    const left = await t.api('GET', `/api/v1/organizations/${t.organizationId}/alerts`);
    expect(left.body.items).toEqual([]);
  });
});
