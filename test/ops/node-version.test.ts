/**
 * One Node.js story (issue 19, item 21): the README's "Node.js X or newer", package.json's
 * engines and the engines of every package in package-lock.json agree, so `npm install` on the
 * oldest Node.js the README names prints no EBADENGINE warning.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** npm's own range matching (semver, without a types package for the two calls used here). */
const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { major: number; minor: number } | null;
  satisfies(version: string | { major: number; minor: number }, range: string): boolean;
};

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface LockEntry {
  engines?: { node?: string } | string[];
}
const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, LockEntry> };
const oldest = semver.minVersion(pkg.engines.node)!;

describe('the Node.js version', () => {
  it('the README names the oldest one package.json accepts, wherever it names one', () => {
    const named = [...read('README.md').matchAll(/Node\.js (\d+(?:\.\d+)*)/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(0);
    expect(new Set(named)).toEqual(new Set([`${oldest.major}.${oldest.minor}`]));
  });

  it('every package the lock file installs runs on it', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([name]) => name !== '')
      .flatMap(([name, entry]) => {
        const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
        return range && !semver.satisfies(oldest, range) ? [`${name} wants node ${range}`] : [];
      });
    expect(refusing).toEqual([]);
  });

  it('this machine’s Node.js is one package.json accepts', () => {
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });
});
