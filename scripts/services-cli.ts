/**
 * `npm run services build` builds (or finds) the Temporal CLI and FerretDB binaries ahead of time; with `cluster`,
 * also `npm run cluster`'s Temporal server, its SQL tool and Temporal Web.
 */
import { resolveTemporalServer, resolveTemporalUi } from './cluster-services';
import { cacheBinDir, resolveFerretBinary, resolveTemporalBinary, SetupError, which } from './services';

const command = process.argv[2] ?? 'build';
const cluster = process.argv[3] === 'cluster';
if (command !== 'build' || (process.argv[3] !== undefined && !cluster)) {
  console.error('usage: npm run services build [cluster]');
  process.exit(2);
}
try {
  const say = (line: string) => console.log(`[services] ${line}`);
  say(`cache: ${cacheBinDir()}`);
  say(`temporal: ${resolveTemporalBinary(say)}`);
  if (process.env.MONGODB_URI) say('database: MONGODB_URI is set, nothing to build');
  else if (which('mongod')) say(`database: mongod at ${which('mongod')}`);
  else say(`database: ${resolveFerretBinary(say)}`);
  if (cluster) {
    const server = resolveTemporalServer(say);
    say(`temporal server: ${server.server} (sql tool ${server.sqlTool})`);
    say(`temporal web: ${resolveTemporalUi(say)}`);
    if (which('mongod')) say(`cluster database (FerretDB on PostgreSQL): ${resolveFerretBinary(say)}`);
  }
} catch (err) {
  console.error(err instanceof SetupError ? err.message : err);
  process.exit(2);
}
