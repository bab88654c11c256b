/**
 * `npm run test:unit`: the unit tests only (test/unit/). They need no Redis, so there is no
 * global setup starting a redis-server; `npx vitest run` (vitest.config.ts) runs everything.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    // Two cores shared with other work: two files at a time, as in vitest.config.ts.
    maxWorkers: 2,
  },
});
