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
import { freePort, type ManagedProcess, resolveTemporalBinary, startEmbeddedDatabase } from '../../scripts/services';
import { workflowsPath } from '../../worker/worker';
import { allSearchAttributeKeys } from '../../workflows/definitions';

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

  const temporalBinary = resolveTemporalBinary(progress);
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalBinary },
      ip: '127.0.0.1',
      port: await freePort(),
      ui: false,
      searchAttributes: allSearchAttributeKeys,
      log: { format: 'pretty', level: 'error' },
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
  };
}

const noop = () => {};
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };
