import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../scripts/services';

const tsx = 'node_modules/.bin/tsx';

describe('process entry points', () => {
  for (const entry of ['scripts/start.ts', 'api/main.ts', 'worker/main.ts']) {
    it(`${entry} stops with one clear line naming an invalid variable`, () => {
      const result = spawnSync(tsx, [entry], {
        env: { ...process.env, PORT: 'not-a-port' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^Invalid configuration: PORT="not-a-port"/);
    });
  }

  it('without the Temporal CLI and without Go, npm start says in one line what to install', async () => {
    const emptyCache = mkdtempSync(join(tmpdir(), 'janela-no-cache-'));
    try {
      const result = spawnSync(tsx, ['scripts/start.ts'], {
        env: {
          ...process.env,
          PATH: '/usr/bin:/bin', // node, but neither `temporal` nor `go`
          XDG_CACHE_HOME: emptyCache,
          JANELA_DATA_DIR: join(emptyCache, 'data'),
          JANELA_TEMPORAL_PORT: String(await freePort()),
          JANELA_TEMPORAL_UI_PORT: String(await freePort()),
          TEMPORAL_ADDRESS: '',
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/Temporal CLI is needed: install `temporal`.*or Go.*or set TEMPORAL_ADDRESS/);
    } finally {
      rmSync(emptyCache, { recursive: true, force: true });
    }
  });

  it('the API alone requires JANELA_ADMIN_TOKEN', () => {
    const env = { ...process.env };
    delete env.JANELA_ADMIN_TOKEN;
    const result = spawnSync(tsx, ['api/main.ts'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('JANELA_ADMIN_TOKEN');
  });
});
