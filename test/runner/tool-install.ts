/**
 * Installs a real load-test tool from npm for the tests that run it, once per machine: into a
 * cache directory under the OS temp directory (never the project's node_modules), reused while
 * it is there. Artillery 2.0.21 measured here: 969 packages, 591 MB, 1 min 25 s to install.
 *
 * On a fresh machine that install held one of the suite's two test workers for its whole
 * length, mostly waiting on the network and the disk. `startToolInstall` (called from the
 * global setup when the whole suite runs) starts it in the background instead, while the other
 * test files run; `installTool` then waits for it, or installs the tool itself when nothing
 * else is installing it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type Installed = { bin: string } | { skip: string };

/** A package, its version and the command of it the tests run. */
export interface Tool {
  pkg: string;
  version: string;
  bin: string;
}

export const ARTILLERY: Tool = { pkg: 'artillery', version: '2.0.21', bin: 'artillery' };

/** How long an install may take before it counts as failed (the registry is slow, not down). */
const INSTALL_TIMEOUT_MS = 300_000;

interface Place {
  dir: string;
  binPath: string;
  /**
   * Holds the pid of the process that started the install and moves it into place once npm
   * is done (the test run's main process): while it lives, the install may still finish.
   */
  lock: string;
}

function place({ pkg, version, bin }: Tool): Place {
  const dir = path.join(tmpdir(), 'loadnotify-test-tools', `${pkg}-${version}`);
  return { dir, binPath: path.join(dir, 'node_modules', '.bin', bin), lock: `${dir}.installing` };
}

const npmArgs = (partial: string, { pkg, version }: Tool) => [
  'install',
  '--prefix',
  partial,
  '--no-audit',
  '--no-fund',
  '--no-save',
  `${pkg}@${version}`,
];
// Artillery depends on Playwright's browser package, which would download a Chromium.
const npmEnv = () => ({ ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' });

/** The pid in the lock, if that process is still alive. */
function installer(lock: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(lock, 'utf8'));
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/**
 * Starts installing the tool in the background unless it is installed or being installed, and
 * returns at once. The install ends (and its lock is removed) on its own; a failed one leaves
 * nothing, and `installTool` then tries again and says why.
 */
export async function startToolInstall(tool: Tool): Promise<void> {
  const p = place(tool);
  if (existsSync(p.binPath) || installer(p.lock) !== null) return;
  const partial = `${p.dir}.partial-${process.pid}`;
  await mkdir(partial, { recursive: true });
  writeFileSync(p.lock, String(process.pid));
  const child = spawn('npm', npmArgs(partial, tool), {
    cwd: partial,
    env: npmEnv(),
    stdio: 'ignore',
    timeout: INSTALL_TIMEOUT_MS,
  });
  let ended = false;
  const done = async (ok: boolean) => {
    if (ended) return;
    ended = true;
    try {
      if (ok && existsSync(path.join(partial, 'node_modules', '.bin', tool.bin))) {
        await rm(p.dir, { recursive: true, force: true });
        await rename(partial, p.dir);
      } else await rm(partial, { recursive: true, force: true });
    } finally {
      await rm(p.lock, { force: true });
    }
  };
  child.once('error', () => void done(false));
  child.once('exit', (code) => void done(code === 0));
  // Never what keeps the test run alive: a run of a few files may end before it does.
  child.unref();
}

/** Waits while another process installs the tool (see startToolInstall). */
async function waitForInstaller(p: Place): Promise<void> {
  const until = Date.now() + INSTALL_TIMEOUT_MS + 10_000;
  while (!existsSync(p.binPath) && installer(p.lock) !== null && Date.now() < until)
    await new Promise((resolve) => setTimeout(resolve, 500));
}

export async function installTool(tool: Tool): Promise<Installed> {
  const { pkg, version } = tool;
  const p = place(tool);
  await waitForInstaller(p);
  if (existsSync(p.binPath)) return { bin: p.binPath };
  const partial = `${p.dir}.partial-${process.pid}`;
  await mkdir(partial, { recursive: true });
  const npm = (args: string[], timeout: number) =>
    spawnSync('npm', args, { cwd: partial, encoding: 'utf8', timeout, env: npmEnv() });
  const install = npm(npmArgs(partial, tool), INSTALL_TIMEOUT_MS);
  if (install.status !== 0) {
    await rm(partial, { recursive: true, force: true });
    // Only an unreachable registry is a reason to skip; any other failure is the test's.
    if (npm(['ping'], 30_000).status !== 0) {
      return { skip: `the npm registry is unreachable, so ${pkg}@${version} cannot be installed` };
    }
    throw new Error(`npm install ${pkg}@${version} failed: ${install.stderr.slice(-2000)}`);
  }
  await rm(p.dir, { recursive: true, force: true });
  await rename(partial, p.dir);
  return { bin: p.binPath };
}
