import { defineConfig } from 'vitest/config';

// `npm run test:chaos`: the fault suite on the production profile (test/chaos/). It starts its own cluster, so it
// needs no global setup; its phases run one after another in one process (faults must not overlap).
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    env: { JANELA_LOG_LEVEL: 'warn' },
    testTimeout: 900_000,
    hookTimeout: 600_000,
    teardownTimeout: 120_000,
  },
});
