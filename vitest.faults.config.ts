import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: tests that crash processes and stop a private PostgreSQL server.
 * One file at a time: each runs several server processes and a database of its own, and the
 * figures they print (throughput, duplicates) mean little while they compete for two cores.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 90_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
