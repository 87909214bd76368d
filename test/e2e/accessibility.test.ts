import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seedLoadTest, startTestServer, type TestServer } from '../helpers/server.js';
import { axeProblems } from './axe.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, ROOT, signInAsOwner } from './web-build.js';

/**
 * Accessibility (issue 19, item 19), in a real chromium against the real server: axe-core on
 * every page at 1280 and 390 px with no serious or critical violation, the channel form and
 * the dialogs worked by keyboard alone (focus trapped in a dialog and given back when it
 * closes, Escape where it may cancel), and a visible focus ring. Screenshots in test-results/.
 */

const SHOTS = path.join(ROOT, 'test-results');
const DEAD_URL = 'http://127.0.0.1:9/hooks/load-tests';
const WIDTHS = [1280, 390] as const;

describe.skipIf(!existsSync(CHROMIUM))('accessibility of the web app (issue 19, item 19)', () => {
  let t: TestServer;
  let browser: Browser;
  let desktop: BrowserContext;
  let page: Page;
  let loadTestId: number;
  let runId: number;
  let hookId: number;
  let deliveryId: number;

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
  const done = async (p: Page) => {
    if (p !== page) await p.context().close();
  };
  const shot = async (name: string, p: Page = page) => {
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: path.join(SHOTS, `a11y-${name}.png`), fullPage: true });
  };
  /** What has focus: its accessible-ish name, for messages. */
  const focused = (p: Page) =>
    p.evaluate(() => {
      const e = document.activeElement as HTMLElement | null;
      if (!e || e === document.body) return 'body';
      const label = e.getAttribute('aria-label') ?? (e as HTMLInputElement).labels?.[0]?.textContent;
      return `${e.tagName.toLowerCase()}:${(label ?? e.textContent ?? '').trim().slice(0, 60)}`;
    });
  /** Whether the focused element is inside the open modal dialog (true when nothing is focused). */
  const focusInDialog = (p: Page) =>
    p.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return true;
      return e.closest('dialog[open]') !== null;
    });

  beforeAll(async () => {
    await buildWeb();
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestServer('sqlite', {
      env: {
        LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
        LOADNOTIFY_SCHEDULE_COMMANDS: process.execPath,
        LOADNOTIFY_SCHEDULE_DIR: tmpdir(),
        ...(process.getuid?.() === 0 ? { LOADNOTIFY_SCHEDULE_USER: 'nobody' } : {}),
      },
    });
    loadTestId = (await seedLoadTest(t, { project: 'Shop', loadTest: 'Checkout' })).loadTestId;
    const scheduled = await t.api('PATCH', `/api/v1/load-tests/${loadTestId}`, {
      body: {
        schedule: {
          command: [process.execPath, '-e', 'process.exit(0)'],
          cron: '0 3 * * *',
          timezone: 'Europe/Stockholm',
          enabled: false,
        },
      },
    });
    expect(scheduled.status).toBe(200);
    const hook = await t.api('POST', `/api/v1/organizations/${t.organizationId}/notification-channels`, {
      body: { type: 'webhook', name: 'Team hook', url: DEAD_URL },
    });
    expect(hook.status).toBe(201);
    hookId = hook.body.id;
    const run = await t.api('POST', `/api/v1/load-tests/${loadTestId}/runs`, { body: {} });
    expect(run.status).toBe(201);
    runId = run.body.id;
    // The run ends: its test.finished goes to the hook (a dead port: failed, retries queued).
    const moved = await t.api('POST', `/api/v1/runs/${runId}/status`, {
      body: { status: 'finished', result: 'passed' },
    });
    expect(moved.status).toBe(200);
    for (;;) {
      const d = await t.api('GET', `/api/v1/notification-channels/${hookId}/deliveries`);
      if (d.body.items.length > 0) {
        deliveryId = d.body.items[0].id;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(
      (
        await t.api('POST', `/api/v1/organizations/${t.organizationId}/invitations`, {
          body: { email: 'pending@example.com', role: 'member' },
        })
      ).status,
    ).toBe(201);
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

  it('setup, sign-in and invitation pages have no serious or critical axe violation at 1280 and 390 px', async () => {
    const fresh = await startTestServer('sqlite', { setup: false });
    const invited = await t.api('POST', `/api/v1/organizations/${t.organizationId}/invitations`, {
      body: { email: 'new@example.com', role: 'member' },
    });
    expect(invited.status).toBe(201);
    const accept = new URL(invited.body.accept_url as string);
    const problems: Record<string, string[]> = {};
    try {
      for (const width of WIDTHS) {
        const c = await newContext(width);
        const p = await c.newPage();
        await p.goto(fresh.url);
        await p.getByRole('heading', { name: 'Welcome to loadnotify' }).waitFor();
        problems[`setup ${width}`] = await axeProblems(p);
        await shot(`setup-${width}`, p);
        await p.goto(t.url);
        await p.getByRole('heading', { name: 'Sign in to loadnotify' }).waitFor();
        problems[`sign-in ${width}`] = await axeProblems(p);
        await shot(`sign-in-${width}`, p);
        await p.goto(`${t.url}${accept.pathname}${accept.search}${accept.hash}`);
        await p.getByRole('heading', { level: 1 }).waitFor();
        await p.getByRole('button').first().waitFor();
        problems[`accept invitation ${width}`] = await axeProblems(p);
        await shot(`accept-${width}`, p);
        await c.close();
      }
    } finally {
      await fresh.close();
    }
    for (const [where, list] of Object.entries(problems)) expect(list, where).toEqual([]);
  }, 90_000);

  const pages: [string, () => string, (p: Page) => Promise<unknown>][] = [
    ['projects', () => '/projects', (p) => p.getByRole('link', { name: 'Shop' }).first().waitFor()],
    ['project', () => '/projects/1', (p) => p.getByRole('link', { name: 'Checkout' }).first().waitFor()],
    [
      'load-test-and-schedule',
      () => `/load-tests/${loadTestId}`,
      (p) => p.getByRole('list', { name: 'Program and its arguments' }).waitFor(),
    ],
    [
      'runs',
      () => '/runs',
      (p) =>
        p
          .getByRole('link', { name: /^Run #\d+$/ })
          .first()
          .waitFor(),
    ],
    [
      'run',
      () => `/runs/${runId}`,
      (p) => p.getByRole('region', { name: 'Notifications of this run' }).waitFor(),
    ],
    ['integrations', () => '/integrations', (p) => p.getByRole('listitem', { name: 'Team hook' }).waitFor()],
    ['channel-new', () => '/integrations/new/webhook', (p) => p.getByLabel('URL').waitFor()],
    ['channel', () => `/integrations/${hookId}`, (p) => p.getByLabel('Name', { exact: true }).waitFor()],
    [
      'delivery-log',
      () => `/integrations/${hookId}/deliveries`,
      (p) => p.locator('main tbody tr').first().waitFor(),
    ],
    ['delivery', () => `/deliveries/${deliveryId}`, (p) => p.getByRole('heading', { level: 1 }).waitFor()],
    ['members', () => '/members', (p) => p.getByText('pending@example.com').first().waitFor()],
    ['tokens', () => '/tokens', (p) => p.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor()],
  ];

  it('every signed-in page has no serious or critical axe violation at 1280 and 390 px', async () => {
    const problems: Record<string, string[]> = {};
    for (const width of WIDTHS) {
      const p = await pageAt(width);
      for (const [name, to, ready] of pages) {
        await p.goto(`${t.url}${to()}`);
        await ready(p);
        problems[`${name} ${width}`] = await axeProblems(p);
        await shot(`${name}-${width}`, p);
      }
      await done(p);
    }
    for (const [where, list] of Object.entries(problems)) expect(list, where).toEqual([]);
  }, 180_000);

  it('a control focused from the keyboard has an outline of 3:1 contrast or more, on the page and in the dark menu', async () => {
    /** The focused element's outline and its contrast with what it is drawn on (the parent's background). */
    const ring = () =>
      page.evaluate(() => {
        const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
        const lum = ([r, g, b]: number[]) => {
          const l = [r!, g!, b!].map((v) => {
            const x = v / 255;
            return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
          });
          return 0.2126 * l[0]! + 0.7152 * l[1]! + 0.0722 * l[2]!;
        };
        const e = document.activeElement as HTMLElement;
        const s = getComputedStyle(e);
        let under = e.parentElement;
        let bg = 'rgb(255, 255, 255)';
        for (; under; under = under.parentElement) {
          const c = getComputedStyle(under).backgroundColor;
          if (rgb(c).length === 3 || (rgb(c)[3] ?? 0) > 0) {
            bg = c;
            break;
          }
        }
        const [a, b] = [lum(rgb(s.outlineColor)), lum(rgb(bg))];
        return {
          style: s.outlineStyle,
          width: parseFloat(s.outlineWidth),
          contrast: Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 10) / 10,
        };
      });
    await page.goto(`${t.url}/integrations/new/webhook`);
    await page.getByLabel('URL').waitFor();
    // From the keyboard (Tab), so :focus-visible applies as it does for a person.
    await page.getByLabel('Name', { exact: true }).focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toMatch(/^input:Name/);
    const onPage = await ring();
    await shot('focus-ring-page');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Runs' }).focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toMatch(/^a:Runs/);
    const inMenu = await ring();
    await shot('focus-ring-menu');
    for (const [where, r] of Object.entries({ onPage, inMenu })) {
      expect(r.style, where).toBe('solid');
      expect(r.width, where).toBeGreaterThanOrEqual(2);
      expect(r.contrast, where).toBeGreaterThanOrEqual(3);
    }
  });

  it('the channel form is filled, saved and its secret dialog closed with the keyboard alone', async () => {
    await page.goto(`${t.url}/integrations/new/webhook`);
    const name = page.getByLabel('Name', { exact: true });
    await page.getByLabel('URL').waitFor();
    // From the page's top, Tab reaches every control of the form.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const reached: string[] = [];
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      reached.push(await focused(page));
      if (reached.at(-1)!.startsWith('button:Save')) break;
    }
    expect(reached.some((r) => r.startsWith('input:URL'))).toBe(true);
    expect(reached.some((r) => r.startsWith('input:Name'))).toBe(true);
    expect(reached.some((r) => r.startsWith('select:Status scheme'))).toBe(true);
    expect(reached.some((r) => r.startsWith('input:'))).toBe(true);
    expect(reached.at(-1)).toMatch(/^button:Save/);

    await page.getByLabel('URL').focus();
    await page.keyboard.type(DEAD_URL);
    await name.focus();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('Keyboard hook');
    // A checkbox toggles with Space.
    const box = page.locator('fieldset.checks input[type=checkbox]').first();
    const before = await box.isChecked();
    await box.focus();
    await page.keyboard.press('Space');
    expect(await box.isChecked()).toBe(!before);
    await page.keyboard.press('Space');
    const save = page.getByRole('button', { name: /^Save/ });
    await save.focus();
    await page.keyboard.press('Enter');

    // The secret dialog: focus on the secret, Tab stays inside, Escape does not lose it.
    const dialog = page.getByRole('dialog', { name: 'Copy the signing secret now' });
    await dialog.waitFor();
    expect(await focusInDialog(page)).toBe(true);
    expect(await focused(page)).not.toBe('body');
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      expect(await focusInDialog(page), `Tab ${i + 1}: ${await focused(page)}`).toBe(true);
    }
    await page.keyboard.press('Escape');
    expect(await dialog.isVisible()).toBe(true);
    expect(await axeProblems(page), 'secret dialog').toEqual([]);
    await shot('secret-dialog-1280');
    const doneButton = dialog.getByRole('button', { name: 'Done' });
    await doneButton.focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    // Focus comes back to the page, not lost on <body>: Save is disabled once saved, so the
    // Signing section the secret belongs to.
    expect(await focused(page)).toBe('h2:Signing');
  });

  it('Rotate secret asks in a dialog that traps focus, cancels with Escape and gives focus back', async () => {
    await page.goto(`${t.url}/integrations/${hookId}`);
    const rotate = page.getByRole('button', { name: /Rotate/ });
    await rotate.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await focusInDialog(page)).toBe(true);
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      expect(await focusInDialog(page), `Tab ${i + 1}: ${await focused(page)}`).toBe(true);
    }
    expect(await axeProblems(page), 'rotate dialog').toEqual([]);
    await shot('rotate-dialog-1280');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await focused(page)).toMatch(/^button:.*Rotate/);
  });

  it('Remove member asks in a dialog that traps focus, cancels with Escape and gives focus back, to the heading once the row is gone', async () => {
    const invited = await t.api('POST', `/api/v1/organizations/${t.organizationId}/invitations`, {
      body: { email: 'erik@example.com', role: 'member' },
    });
    const accepted = await fetch(`${t.url}/api/v1/invitations/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: invited.body.token, password: 'erik-password' }),
    });
    expect(accepted.status).toBe(200);
    for (const width of WIDTHS) {
      const p = await pageAt(width);
      await p.goto(`${t.url}/members`);
      const remove = p.getByRole('button', { name: 'Remove erik@example.com' });
      await remove.focus();
      await p.keyboard.press('Enter');
      const dialog = p.getByRole('dialog');
      await dialog.waitFor();
      expect(await focusInDialog(p)).toBe(true);
      for (let i = 0; i < 5; i++) {
        await p.keyboard.press('Tab');
        expect(await focusInDialog(p), `Tab ${i + 1}: ${await focused(p)}`).toBe(true);
      }
      expect(await axeProblems(p), `remove dialog ${width}`).toEqual([]);
      await shot(`remove-dialog-${width}`, p);
      await p.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      expect(await focused(p)).toBe('button:Remove erik@example.com');
      await done(p);
    }
    // Confirmed from the keyboard: the row and its Remove button go, focus goes to the heading.
    await page.goto(`${t.url}/members`);
    await page.getByRole('button', { name: 'Remove erik@example.com' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await page.keyboard.press('Tab'); // from Cancel to the confirming button
    expect(await focused(page)).toMatch(/^button:Remove/);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Remove erik@example.com' }).waitFor({ state: 'detached' });
    expect(await focused(page)).toBe('h1:Members');
  });
});
