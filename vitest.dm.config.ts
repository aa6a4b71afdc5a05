import { defineConfig } from 'vitest/config';

/**
 * The device-mapper suite. It needs real device-mapper, so it runs only inside the QEMU guest that
 * `npm run test:dm` boots (scripts/dm-guest.js); the guest's / is read-only, hence the cache in /tmp.
 */
export default defineConfig({
  cacheDir: '/tmp/vitest-dm-cache',
  test: {
    include: ['test/dm/**/*.dmtest.ts'],
    // One kernel, one dm namespace, one loop table: files run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['verbose', './test/support/summary-reporter.ts'],
  },
});
