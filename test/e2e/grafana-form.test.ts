import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * A Grafana annotations channel set up in the web form, which is built from the server's
 * catalogue: the type's card on the Integrations page, its fields with their words, a field
 * error named in the form, then saved and tried with the Test Hook against a local stand-in
 * for Grafana's annotations API. Real server, real chromium. Screenshots in
 * test-results/grafana-form-*.png.
 */

const SHOTS = path.join(ROOT, 'test-results');
const TOKEN = 'glsa_HOJzSoCkLRnGdLFQGMvzwbcBYGcy9TAz_3fa29c07';

describe.skipIf(!existsSync(CHROMIUM))('Grafana annotations in the channel form', () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  let grafana: Receiver;
  const shot = (name: string) =>
    page.screenshot({ path: path.join(SHOTS, `grafana-form-${name}.png`), fullPage: true });

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    grafana = await startReceiver(() => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"message":"Annotation added","id":1}',
    }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const c = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    c.setDefaultTimeout(10_000);
    page = await c.newPage();
    await signInAsOwner(page, t.url);
  }, 120_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail')
      await shot(`failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}`);
  });

  afterAll(async () => {
    await browser?.close();
    await grafana?.close();
    await t?.close();
  });

  it('creates a Grafana channel through the form and annotates with the Test Hook', async () => {
    await page.goto(`${t.url}/integrations`);
    await page.getByText('Grafana annotations', { exact: true }).first().waitFor();
    await page.getByText('A region annotation on your Grafana dashboards covering each run').waitFor();

    await page.goto(`${t.url}/integrations/new/grafana`);
    await page.getByRole('button', { name: 'Save Changes' }).waitFor();
    await page.getByLabel('URL').fill(grafana.url('/grafana'));
    await page.getByLabel('Name', { exact: true }).fill('Team dashboards');
    await page.getByLabel('Service account token').fill(TOKEN);
    await page.getByLabel('Panel ID (optional)').fill('4');
    await page.getByLabel('Extra tags (optional)').fill('env:staging, team:checkout');

    // A panel without its dashboard: the server's 400 lands on the field, in words.
    await page.getByRole('button', { name: 'Save Changes' }).click();
    await page.getByText('Panel 4 is on a dashboard; give that dashboard’s UID too').first().waitFor();
    await shot('panel-without-dashboard');
    expect(
      await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`),
    ).toMatchObject({ body: { items: [] } });

    await page.getByLabel('Dashboard UID (optional)').fill('cLV5GDCkz');
    // The error goes with the change, and the preview shows the annotation the end would make.
    await page.getByText('is on a dashboard').first().waitFor({ state: 'detached' });
    await page.locator('.channel-preview').getByText('"panelId": 4').waitFor();
    await shot('filled');
    await page.getByRole('button', { name: 'Save Changes' }).click();
    await page.waitForURL(/\/integrations\/\d+$/);
    // Exactly the notice: the URL's hint ("the rest of the saved URL") holds the word too.
    await page.getByText('Saved.', { exact: true }).waitFor();

    const [saved] = (await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`))
      .body.items;
    expect(saved).toMatchObject({
      type: 'grafana',
      name: 'Team dashboards',
      secrets_set: ['token'],
      config: { dashboard_uid: 'cLV5GDCkz', panel_id: 4, tags: ['env:staging', 'team:checkout'] },
    });

    await page.getByRole('button', { name: 'Test Hook' }).click();
    await page.locator('.test-outcome').getByText('HTTP 200').waitFor();
    const [req] = await grafana.waitFor(1);
    expect(req).toMatchObject({ method: 'POST', url: '/grafana/api/annotations' });
    expect(req!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(req!.body)).toMatchObject({
      dashboardUID: 'cLV5GDCkz',
      panelId: 4,
      tags: ['loadnotify', 'test', 'env:staging', 'team:checkout'],
    });
    // The token is write-only: the reloaded form shows it set, never its value.
    await page.reload();
    await page.getByRole('button', { name: 'Save Changes' }).waitFor();
    expect(await page.getByLabel('Service account token').inputValue()).toBe('');
    expect(await page.content()).not.toContain(TOKEN);
    await shot('saved');
  });
});
