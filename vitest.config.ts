import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/faults/**', 'node_modules/**', 'dist/**'],
    // Starts the test PostgreSQL or installs chromium when missing, or stops with what to run.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more workers only add contention between database-heavy files (4 workers
    // measured: no faster, and timing tests failed).
    maxWorkers: 2,
    // Each worker keeps the modules it imported from one test file to the next instead of a
    // fresh process per file: measured on this 2-core machine, the suite's CPU fell from about
    // 1,250 s to 750 s and its wall time from 850 s to 720 s. Each test file starts its own
    // servers and stores and puts back the environment variables it changes; what modules keep
    // (the template workers' pool) is one per process in the service as well.
    isolate: false,
  },
});
