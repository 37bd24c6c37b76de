import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

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

  it('the API alone requires JANELA_ADMIN_TOKEN', () => {
    const env = { ...process.env };
    delete env.JANELA_ADMIN_TOKEN;
    const result = spawnSync(tsx, ['api/main.ts'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('JANELA_ADMIN_TOKEN');
  });
});
