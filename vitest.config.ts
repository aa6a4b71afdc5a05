import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Real loop-device tests share the kernel's loop table: run files one at a time.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    // A run directory of the run's own (see test/support/run-dir.ts).
    globalSetup: ['./test/support/run-dir.ts'],
  },
});
