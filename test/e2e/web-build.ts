import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const CACHE = path.join(ROOT, 'node_modules', '.cache');
const LOCK = path.join(CACHE, 'loadnotify-web-build.lock');
const STAMP = path.join(CACHE, 'loadnotify-web-build.hash');

/** Every file the web build reads: the app, its config, and the server's pure core it imports. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) {
        if (name !== 'dist' && name !== 'node_modules') walk(file);
      } else {
        hash.update(path.relative(ROOT, file)).update(readFileSync(file));
      }
    }
  };
  walk(path.join(ROOT, 'web'));
  walk(path.join(ROOT, 'src', 'core'));
  return hash.digest('hex');
}

/**
 * Builds web/dist, which the server serves, unless it is already built from these sources.
 * Browser test files run in parallel workers: without the lock one file's build would empty
 * web/dist under the other's browser, and the page would lose its script mid-test.
 */
export async function buildWeb(): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock older than any build is left by a killed run.
      const held = statSync(LOCK, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 120_000) {
        try {
          rmdirSync(LOCK);
        } catch {
          // Another waiter removed it first.
        }
      }
      if (Date.now() > deadline) throw new Error(`another web build holds ${LOCK}`, { cause: err });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    const hash = sourceHash();
    const built = existsSync(path.join(ROOT, 'web', 'dist', 'index.html'));
    if (built && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash) return;
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web', '--logLevel', 'warn'],
      { cwd: ROOT, stdio: 'inherit' },
    );
    writeFileSync(STAMP, hash);
  } finally {
    rmdirSync(LOCK);
  }
}

/** Signs in through the web app as the test server's owner (set up by startTestServer). */
export async function signInAsOwner(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Email').fill('owner@example.com');
  await page.getByLabel('Password').fill('correct horse');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
}

/**
 * Opens a channel form's "More settings" (templates, extra headers, ...), folded on a new form;
 * fails when it was open already, which a new form's never is.
 */
export async function openMoreSettings(page: Page): Promise<void> {
  const more = page.locator('details.more-settings');
  expect(await more.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
  await more.locator('summary').click();
  await page.waitForFunction(() => document.querySelector<HTMLDetailsElement>('details.more-settings')?.open);
}
