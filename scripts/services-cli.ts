/** `npm run services build` builds (or finds) the Temporal CLI and FerretDB binaries ahead of time. */
import { cacheBinDir, resolveFerretBinary, resolveTemporalBinary, SetupError, which } from './services';

const command = process.argv[2] ?? 'build';
if (command !== 'build') {
  console.error('usage: npm run services build');
  process.exit(2);
}
try {
  const say = (line: string) => console.log(`[services] ${line}`);
  say(`cache: ${cacheBinDir()}`);
  say(`temporal: ${resolveTemporalBinary(say)}`);
  if (process.env.MONGODB_URI) say('database: MONGODB_URI is set, nothing to build');
  else if (which('mongod')) say(`database: mongod at ${which('mongod')}`);
  else say(`database: ${resolveFerretBinary(say)}`);
} catch (err) {
  console.error(err instanceof SetupError ? err.message : err);
  process.exit(2);
}
