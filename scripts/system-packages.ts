/**
 * The Debian packages the test suite drives (Chromium for the console's browser tests, curl for the 100 MB uploads,
 * PostgreSQL and HAProxy for `npm run cluster`'s test): found, or installed from Debian's packages when this process may
 * (root, apt-get present), or a SetupError naming what to install — so `npm test` holds on a new machine by itself.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SetupError, which } from './services';

/** Debian puts HAProxy in /usr/sbin, which a non-root PATH often lacks. */
export function haproxyBinary(): string | null {
  return which('haproxy') ?? (existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : null);
}

export const HAPROXY_PACKAGE: DebianPackage = {
  name: 'haproxy',
  for: "the production profile's load balancer",
  present: () => haproxyBinary() !== null,
};

type Progress = (line: string) => void;

export interface DebianPackage {
  name: string;
  /** Why the tests need it, for the one line that asks for it. */
  for: string;
  present: () => boolean;
}

const postgresInstalled = () =>
  Boolean(which('initdb')) ||
  (existsSync('/usr/lib/postgresql') &&
    readdirSync('/usr/lib/postgresql').some((version) =>
      existsSync(join('/usr/lib/postgresql', version, 'bin', 'initdb')),
    ));

export const TEST_PACKAGES: DebianPackage[] = [
  { name: 'chromium', for: 'the console browser tests', present: () => existsSync('/usr/bin/chromium') },
  { name: 'curl', for: 'the 100 MB attachment uploads', present: () => Boolean(which('curl')) },
  { name: 'postgresql', for: "the production profile's test", present: postgresInstalled },
  HAPROXY_PACKAGE,
];

/** Installs the missing packages with apt-get when running as root, else throws one line saying what to install. */
export function ensureDebianPackages(packages: DebianPackage[], progress: Progress = console.log): void {
  const missing = packages.filter((pkg) => !pkg.present());
  if (missing.length === 0) return;
  const names = missing.map((pkg) => pkg.name).join(' ');
  const why = missing.map((pkg) => `${pkg.name} (${pkg.for})`).join(', ');
  if (process.getuid?.() !== 0 || !which('apt-get'))
    throw new SetupError(`Missing Debian packages: ${why}. Install them: sudo apt-get install ${names}`);
  progress(`installing from Debian's packages: ${names} (first time only)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]) => spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'] }).status;
  if (run(['update', '-qq']) !== 0 || run(['install', '-y', '-qq', ...missing.map((pkg) => pkg.name)]) !== 0)
    throw new SetupError(`Installing ${names} with apt-get failed (see above). Install them: apt-get install ${names}`);
  const still = missing.filter((pkg) => !pkg.present());
  if (still.length > 0)
    throw new SetupError(`apt-get ran but ${still.map((pkg) => pkg.name).join(' ')} is still missing.`);
}
