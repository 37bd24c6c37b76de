/**
 * Starts the real services once for the whole run, on free ports (no clash with a running `npm start`):
 * the Temporal CLI dev server (through @temporalio/testing, with our cached binary) and the database
 * (MONGODB_URI if set, else mongod/FerretDB in a temporary directory). Also bundles the workflows once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { resolveTemporalServer, resolveTemporalUi } from '../../scripts/cluster-services';
import {
  freePort,
  type ManagedProcess,
  resolveTemporalBinary,
  SetupError,
  startEmbeddedDatabase,
  temporalDynamicConfigArgs,
} from '../../scripts/services';
import { ensureDebianPackages, TEST_PACKAGES } from '../../scripts/system-packages';
import { workflowsPath } from '../../worker/worker';
import { allSearchAttributeKeys } from '../../workflows/definitions';
import { findLeaks } from '../helpers/secrets';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    mongoUri: string;
    workflowBundlePath: string;
    temporalBinary: string;
  }
}

export default async function setup(project: TestProject) {
  const workDir = mkdtempSync(join(tmpdir(), 'janela-test-'));
  const progress = (line: string) => console.log(`[test setup] ${line}`);

  // What a new machine lacks is installed (or named) here, so `npm test` alone holds there: Debian's packages,
  // then the Go binaries, built once into ~/.cache/janela/bin (the production profile's too: its test runs it).
  let temporalBinary: string;
  try {
    ensureDebianPackages(TEST_PACKAGES, progress);
    temporalBinary = resolveTemporalBinary(progress);
    resolveTemporalServer(progress);
    resolveTemporalUi(progress);
  } catch (err) {
    if (!(err instanceof SetupError)) throw err;
    console.error(`[test setup] ${err.message}`);
    process.exit(2);
  }
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalBinary },
      ip: '127.0.0.1',
      port: await freePort(),
      ui: false,
      searchAttributes: allSearchAttributeKeys,
      log: { format: 'pretty', level: 'error' },
      // The Temporal settings Janela's own servers run with (eager activities).
      extraArgs: temporalDynamicConfigArgs(),
    },
  });

  let db: ManagedProcess | null = null;
  let mongoUri = process.env.MONGODB_URI;
  if (!mongoUri) {
    const started = await startEmbeddedDatabase(workDir, await freePort(), progress);
    db = started.process;
    mongoUri = started.uri;
  }

  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  const workflowBundlePath = join(workDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, code);

  project.provide('temporalAddress', env.address);
  project.provide('mongoUri', mongoUri);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('temporalBinary', temporalBinary);

  return async () => {
    await env.teardown();
    await db?.stop();
    rmSync(workDir, { recursive: true, force: true });
    checkLogsForSecrets();
  };
}

/** Fails the run (vitest exits non-zero) when any log line of any test process holds a secret a test created. */
function checkLogsForSecrets() {
  const runDir = process.env.JANELA_TEST_RUN_DIR;
  const logFile = process.env.JANELA_LOG_FILE;
  const secretsFile = process.env.JANELA_TEST_SECRETS_FILE;
  if (!runDir || !logFile || !secretsFile) return;
  const leaks = findLeaks(logFile, secretsFile);
  if (leaks.length === 0) {
    rmSync(runDir, { recursive: true, force: true });
    return;
  }
  // Vitest prints a teardown error but does not fail the run for it: the exit code is set here.
  process.exitCode = 1;
  // The files stay for a look; the error names each leak with the secret masked.
  throw new Error(
    `${leaks.length} log line(s) hold a secret (log: ${logFile}):\n${leaks
      .slice(0, 20)
      .map((leak) => `  ${leak.what}: ${leak.line}`)
      .join('\n')}`,
  );
}

const noop = () => {};
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };
