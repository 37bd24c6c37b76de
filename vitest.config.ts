import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// The run's log capture and secret registry (see test/helpers/secrets.ts): one directory per run, inherited by
// every test process (and the processes tests spawn); the global teardown scans the log for the secrets.
process.env.JANELA_TEST_RUN_DIR ??= mkdtempSync(join(tmpdir(), 'janela-run-'));
process.env.JANELA_LOG_FILE ??= join(process.env.JANELA_TEST_RUN_DIR, 'log.jsonl');
process.env.JANELA_TEST_SECRETS_FILE ??= join(process.env.JANELA_TEST_RUN_DIR, 'secrets.jsonl');

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite has its own command and config (`npm run test:chaos`, vitest.chaos.config.ts).
    exclude: ['test/chaos/**', '**/node_modules/**'],
    globalSetup: ['test/setup/global.ts'],
    // Each test file gets its own database, task queue, API and simulator; files run in separate processes.
    pool: 'forks',
    // Request logs are for operators; tests keep warnings and errors only (on the terminal: the capture file
    // gets every line).
    env: {
      JANELA_LOG_LEVEL: 'warn',
      JANELA_LOG_FILE: process.env.JANELA_LOG_FILE,
      JANELA_TEST_SECRETS_FILE: process.env.JANELA_TEST_SECRETS_FILE,
    },
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
  },
});
