import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { joinByInvitation, startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * The last of issue 19's rough edges, as a person meets them in a real chromium against the
 * real server: the channel form's name is not cut at 200 characters, its saved URL reads as
 * scheme://host/… with a "rest hidden" marker, and the members and invitations tables are
 * labelled lists on a phone. Screenshots at 1280 and 390 px land in test-results/.
 */

const SHOTS = path.join(ROOT, 'test-results');
/** Loopback, a port nothing listens on: a valid URL nothing is sent to in these tests. */
const DEAD_URL = 'http://127.0.0.1:9/hooks/load-tests';

describe.skipIf(!existsSync(CHROMIUM))('channel form and member lists (issue 19 leftovers)', () => {
  let t: TestServer;
  let browser: Browser;
  let desktop: BrowserContext;
  let page: Page;

  const newContext = async (width: number) => {
    const c = await browser.newContext({ viewport: { width, height: width > 600 ? 900 : 844 } });
    c.setDefaultTimeout(10_000);
    return c;
  };
  /** A signed-in page at the given width, sharing the desktop session. */
  const pageAt = async (width: number) => {
    if (width === 1280) return page;
    const c = await newContext(width);
    await c.addCookies(await desktop.cookies());
    return c.newPage();
  };
  const shot = async (name: string, p: Page = page) => {
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: path.join(SHOTS, `leftovers-${name}.png`), fullPage: true });
  };
  const hook = async (name: string) => {
    const res = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name, url: DEAD_URL },
    });
    expect(res.status).toBe(201);
    return res.body as { id: number; url: string };
  };

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', { env: { LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    desktop = await newContext(1280);
    page = await desktop.newPage();
    await signInAsOwner(page, t.url);
  }, 120_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail')
      await shot(`failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {});
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('refuses a channel name over 200 characters with the server’s sentence, instead of cutting it', async () => {
    const name = `Alerts-${'x'.repeat(198)}`; // 205 characters
    await page.goto(`${t.url}/integrations/new/webhook`);
    await page.getByLabel('URL').fill(DEAD_URL);
    const field = page.getByLabel('Name', { exact: true });
    await field.fill(name);
    // Nothing cut while typing: the whole name is in the field.
    expect(await field.inputValue()).toBe(name);
    await page.getByRole('button', { name: /^Save/ }).click();
    await page
      .locator('.field-error', {
        hasText: 'The name is 205 characters long; it can be at most 200 characters long',
      })
      .waitFor();
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    await shot('channel-long-name-1280');
    const channels = await t.api('GET', `/api/v1/organizations/${t.organizationId}/notification-channels`);
    expect(channels.body.items.map((c: { name: string }) => c.name.slice(0, 7))).not.toContain('Alerts-');
  });

  it('shows a saved URL as scheme://host/… with a "rest hidden" marker (as Integrations does), and an untouched URL is not sent back', async () => {
    const made = await hook('Redacted form hook');
    expect(made.url).toContain('****'); // the API's redacted form is unchanged
    for (const width of [1280, 390]) {
      const p = await pageAt(width);
      await p.goto(`${t.url}/integrations/${made.id}`);
      const url = p.getByLabel('URL');
      await url.waitFor();
      expect(await url.inputValue()).toBe('http://127.0.0.1:9/hooks/…'); // as Integrations shows it;
      const field = p.locator('.field').filter({ has: url });
      expect(await field.locator('.hidden-marker').textContent()).toMatch(/^rest hidden/);
      expect(await field.textContent()).not.toContain('****');
      await shot(`channel-url-${width}`, p);
      if (p !== page) await p.context().close();
    }
    // A name change saves without a url: the stored one stays.
    const sent: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'PATCH') sent.push(r.postData() ?? '');
    });
    await page.getByLabel('Name', { exact: true }).fill('Renamed form hook');
    await page.getByRole('button', { name: /^Save/ }).click();
    await page.getByRole('heading', { name: 'Renamed form hook', level: 1 }).waitFor();
    expect(sent).toHaveLength(1);
    expect(Object.keys(JSON.parse(sent[0]!))).not.toContain('url');
    const after = await t.api('GET', `/api/v1/notification-channels/${made.id}`);
    expect(after.body).toMatchObject({ name: 'Renamed form hook', url: made.url });
    // The marker goes once the field says something else.
    await page.getByLabel('URL').fill('http://127.0.0.1:9/other');
    expect(
      await page
        .locator('.field')
        .filter({ has: page.getByLabel('URL') })
        .locator('.hidden-marker')
        .count(),
    ).toBe(0);
  });

  it('the members and invitations tables are labelled lists on a phone, nothing past the screen’s edge', async () => {
    await joinByInvitation(t, 'erik.with.a.rather.long.address@example.com', 'admin');
    const invited = await t.api('POST', `/api/v1/organizations/${t.organizationId}/invitations`, {
      body: { email: 'pending.person@example.com', role: 'member' },
    });
    expect(invited.status).toBe(201);
    /** How far cells and buttons reach past the viewport, frames' sideways scroll, and cells without a label. */
    const layout = (p: Page) =>
      p.evaluate(() => {
        const vw = document.documentElement.clientWidth;
        const cells = [...document.querySelectorAll('main tbody td, main tbody button, main tbody select')];
        return {
          count: cells.length,
          beyond: Math.max(0, ...cells.map((e) => Math.ceil(e.getBoundingClientRect().right - vw))),
          frames: Math.max(
            0,
            ...[...document.querySelectorAll('.table-wrap')].map((w) => w.scrollWidth - w.clientWidth),
          ),
          unlabelled: [...document.querySelectorAll('main tbody td')].filter(
            (td) => !td.getAttribute('data-label'),
          ).length,
        };
      });
    for (const width of [390, 1280]) {
      const p = await pageAt(width);
      await p.goto(`${t.url}/members`);
      await p.getByRole('button', { name: 'Revoke the invitation of pending.person@example.com' }).waitFor();
      await p.getByRole('button', { name: 'Remove erik.with.a.rather.long.address@example.com' }).waitFor();
      const l = await layout(p);
      expect(l.count).toBeGreaterThan(0);
      expect({ unlabelled: l.unlabelled, beyond: l.beyond, frames: l.frames }, `${width} px`).toEqual({
        unlabelled: 0,
        beyond: 0,
        frames: 0,
      });
      if (width === 390) {
        // Each cell's label is drawn before it (the table's own header row is hidden).
        const label = await p
          .locator('main tbody td[data-label="Role"]')
          .first()
          .evaluate((td) => getComputedStyle(td, '::before').content);
        expect(label).toBe('"Role"');
      }
      await shot(`members-${width}`, p);
      if (p !== page) await p.context().close();
    }
  });
});
