import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { trimWhenIdle } from './idle-trim.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('trimWhenIdle', () => {
  it('collects once a quiet spell has lasted, not while requests come, and again after the next spell', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const trim = trimWhenIdle(1000);
    try {
      // Requests every 100 ms for 2.5 s: never a second of quiet.
      for (let i = 0; i < 25; i++) {
        await (await fetch(url)).text();
        await sleep(100);
      }
      expect(trim.trims).toBe(0);
      await until(() => trim.trims === 1, 'the first trim');
      // Still quiet: nothing more to give back.
      await sleep(1500);
      expect(trim.trims).toBe(1);
      await (await fetch(url)).text();
      await until(() => trim.trims === 2, 'the trim after the next quiet spell');
    } finally {
      trim.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('runs full collections, not young-generation scavenges', async () => {
    const kinds: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries())
        kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
    });
    observer.observe({ entryTypes: ['gc'] });
    const trim = trimWhenIdle(50);
    try {
      await until(() => trim.trims === 1, 'the trim');
      // GC entries are delivered asynchronously.
      await until(
        () => kinds.filter((k) => k === constants.NODE_PERFORMANCE_GC_MAJOR).length >= 2,
        'two major GCs',
      );
    } finally {
      trim.stop();
      observer.disconnect();
    }
  });

  it('leaves no gc function behind for code that runs later', () => {
    const trim = trimWhenIdle(60_000);
    try {
      expect(typeof (globalThis as { gc?: unknown }).gc).toBe('undefined');
      expect(() => vm.runInNewContext('gc')).toThrow(/gc is not defined/);
    } finally {
      trim.stop();
    }
  });
});
