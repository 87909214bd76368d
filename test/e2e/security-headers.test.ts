/**
 * Issue #17, part of 10: every answer carries a content security policy (only the app's own
 * files, no framing), nosniff and no Referer; the built web app works under that policy, in a
 * real browser, without a single violation.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { buildWeb, CHROMIUM, CHROMIUM_ARGS } from './web-build.js';

let t: TestServer;
beforeAll(async () => {
  await buildWeb();
  t = await startTestServer('sqlite', { setup: false });
}, 180_000);
afterAll(() => t?.close());

/** The headers every answer must carry, page or API, success or error. */
function expectSecurityHeaders(headers: Headers, what: string) {
  const csp = headers.get('content-security-policy') ?? '';
  const directives = Object.fromEntries(
    csp.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name, values.join(' ')];
    }),
  );
  expect({ what, csp: directives }).toMatchObject({
    what,
    csp: { 'default-src': "'self'", 'frame-ancestors': "'none'", 'object-src': "'none'" },
  });
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');
  expect({ what, value: headers.get('x-content-type-options') }).toEqual({ what, value: 'nosniff' });
  expect({ what, value: headers.get('referrer-policy') }).toEqual({ what, value: 'no-referrer' });
  expect({ what, value: headers.get('x-frame-options') }).toEqual({ what, value: 'DENY' });
}

describe('security headers', () => {
  it('are on the web app: its page, a client-side route and its assets', async () => {
    const page = await fetch(t.url + '/');
    expect(page.headers.get('content-type')).toContain('text/html');
    expectSecurityHeaders(page.headers, 'GET /');
    const html = await page.text();
    const route = await fetch(t.url + '/projects');
    expect(await route.text()).toBe(html);
    expectSecurityHeaders(route.headers, 'GET /projects');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const script = await fetch(t.url + asset);
    expect(script.status).toBe(200);
    expectSecurityHeaders(script.headers, `GET ${asset}`);
  });

  it('are on API answers, errors included', async () => {
    for (const [method, path, status] of [
      ['GET', '/api/v1/setup', 200],
      ['GET', '/api/v1/me', 401],
      ['POST', '/api/v1/auth/login', 400],
      ['GET', '/api/v1/nothing-here', 404],
    ] as const) {
      const res = await t.api(method, path, { token: null, body: method === 'POST' ? {} : undefined });
      expect({ method, path, status: res.status }).toEqual({ method, path, status });
      expectSecurityHeaders(res.headers, `${method} ${path}`);
    }
  });

  it('an encoded API path that matches no route is a JSON 404, not the web page', async () => {
    const res = await t.api('GET', '/%61pi/v1/nothing-here', { token: null });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe.skipIf(!existsSync(CHROMIUM))('the web app under its content security policy', () => {
  let browser: Browser;
  let page: Page;
  const violations: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    // Reported by the page itself, for every blocked script, style, image or connection.
    await context.exposeBinding('reportViolation', (_source, text: string) => violations.push(text));
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) =>
        (window as unknown as { reportViolation(s: string): void }).reportViolation(
          `${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`,
        ),
      );
    });
    page = await context.newPage();
    page.on('console', (m) => {
      if (/content security policy/i.test(m.text())) violations.push(m.text());
    });
  }, 60_000);
  afterAll(() => browser?.close());

  it('sets up, signs in and shows its pages without a single violation', async () => {
    await page.goto(t.url);
    await page.getByRole('heading', { name: 'Welcome to loadnotify' }).waitFor();
    await page.getByLabel('Email').fill('owner@example.com');
    await page.getByLabel('Password').fill('correct horse');
    await page.getByLabel('Organization name').fill('Acme');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await page.getByLabel('Project name').fill('Checkout');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('link', { name: 'Checkout' }).click();
    await page.getByRole('heading', { name: 'Checkout', level: 1 }).waitFor();
    // Every page of the main menu.
    const menu = page.getByRole('navigation', { name: 'Main' }).getByRole('link');
    for (const name of await menu.allTextContents()) {
      await menu.filter({ hasText: name }).first().click();
      await page.getByRole('heading', { level: 1 }).first().waitFor();
    }
    expect(violations).toEqual([]);
  });

  it('blocks a script injected into the page', async () => {
    const ran = await page.evaluate(async () => {
      const w = window as unknown as { injected?: boolean };
      const s = document.createElement('script');
      s.textContent = 'window.injected = true';
      document.body.append(s);
      await new Promise((r) => setTimeout(r, 50));
      return w.injected === true;
    });
    expect(ran).toBe(false);
    expect(violations.some((v) => v.includes('script-src'))).toBe(true);
  });
});
