import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Compiles the service for tests that run it as a real process. The build goes to a private
 * directory inside node_modules (so packages still resolve) rather than the shared dist/,
 * which another test file or a developer may be using at the same time.
 */
export async function buildServer(
  project = 'tsconfig.build.json',
): Promise<{ entry: string; dir: string; cleanup(): Promise<void> }> {
  const build = path.join(
    ROOT,
    'node_modules',
    '.cache',
    `loadnotify-build-${randomBytes(4).toString('hex')}`,
  );
  await mkdir(build, { recursive: true });
  const tsc = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/typescript/bin/tsc'),
      ...['-p', path.join(ROOT, project), '--outDir', build],
      ...['--noCheck', '--declaration', 'false', '--sourceMap', 'false'],
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
  await writeFile(path.join(build, 'package.json'), '{"type":"module"}');
  return {
    entry: path.join(build, 'cli', 'main.js'),
    dir: build,
    cleanup: () => rm(build, { recursive: true, force: true }),
  };
}
