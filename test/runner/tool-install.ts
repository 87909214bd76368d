/**
 * Installs a real load-test tool from npm for the tests that run it, once per machine: into a
 * cache directory under the OS temp directory (never the project's node_modules), reused while
 * it is there. Artillery 2.0.21 measured here: 969 packages, 591 MB, 1 min 25 s to install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type Installed = { bin: string } | { skip: string };

export async function installTool(pkg: string, version: string, bin: string): Promise<Installed> {
  const dir = path.join(tmpdir(), 'loadnotify-test-tools', `${pkg}-${version}`);
  const binPath = path.join(dir, 'node_modules', '.bin', bin);
  if (existsSync(binPath)) return { bin: binPath };
  const partial = `${dir}.partial-${process.pid}`;
  await mkdir(partial, { recursive: true });
  const npm = (args: string[], timeout: number) =>
    spawnSync('npm', args, {
      cwd: partial,
      encoding: 'utf8',
      timeout,
      // Artillery depends on Playwright's browser package, which would download a Chromium.
      env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
    });
  const install = npm(
    ['install', '--prefix', partial, '--no-audit', '--no-fund', '--no-save', `${pkg}@${version}`],
    300_000,
  );
  if (install.status !== 0) {
    await rm(partial, { recursive: true, force: true });
    // Only an unreachable registry is a reason to skip; any other failure is the test's.
    if (npm(['ping'], 30_000).status !== 0) {
      return { skip: `the npm registry is unreachable, so ${pkg}@${version} cannot be installed` };
    }
    throw new Error(`npm install ${pkg}@${version} failed: ${install.stderr.slice(-2000)}`);
  }
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  return { bin: binPath };
}
