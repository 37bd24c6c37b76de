/**
 * Schemathesis (PyPI), the API-conformance fuzzer, installed once per machine into its own virtualenv under
 * ~/.cache/janela like the service binaries, so `npm test` needs nothing installed by hand beyond Python 3.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const SCHEMATHESIS_VERSION = '4.32.5';

export function schemathesisBinary(progress: (line: string) => void = () => {}): string {
  const venv = join(homedir(), '.cache', 'janela', `schemathesis-${SCHEMATHESIS_VERSION}`);
  const binary = join(venv, 'bin', 'st');
  if (existsSync(binary)) return binary;
  const python = ['python3', 'python'].find((name) => {
    try {
      execFileSync(name, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!python) throw new Error('The API conformance test needs Python 3 (with venv and pip) to install schemathesis.');
  progress(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${venv}`);
  mkdirSync(join(homedir(), '.cache', 'janela'), { recursive: true });
  execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(join(venv, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`], {
    stdio: 'inherit',
  });
  return binary;
}

export interface SchemathesisRun {
  exitCode: number | null;
  output: string;
}

/** Runs `st run` to completion (bounded by `--max-time` and a hard kill after `killAfterMs`). */
export function runSchemathesis(args: string[], cwd: string, killAfterMs: number): Promise<SchemathesisRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(schemathesisBinary(), args, {
      cwd,
      env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, output });
    });
  });
}
