import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    // Each test file gets its own database, task queue, API and simulator; files run in separate processes.
    pool: 'forks',
    // Request logs are for operators; tests keep warnings and errors only.
    env: { JANELA_LOG_LEVEL: 'warn' },
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
  },
});
