import { ConfigError, loadEnv, runMain } from '../common/config';
import { listen } from '../common/http-server';
import { connectTemporalClient } from '../common/temporal';
import { connectDatabase } from '../db/connect';
import { createApp } from './app';
import { apiDepsFromEnv } from './context';

// Runs the API alone, against external services (TEMPORAL_ADDRESS, MONGODB_URI; defaults: those of `npm start`).
await runMain(async () => {
  const env = loadEnv();
  if (!env.JANELA_ADMIN_TOKEN)
    throw new ConfigError('Invalid configuration: JANELA_ADMIN_TOKEN is required to run the API on its own');
  await connectDatabase(env.MONGODB_URI ?? 'mongodb://127.0.0.1:27117/janela');
  const temporal = await connectTemporalClient(env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233', env.TEMPORAL_NAMESPACE);
  const publicBaseUrl = env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${env.PORT}`;
  const app = createApp(apiDepsFromEnv(env, { temporal, publicBaseUrl, adminToken: env.JANELA_ADMIN_TOKEN }));
  const server = await listen(app.fetch, env.PORT, '0.0.0.0');
  console.log(`Janela API on http://127.0.0.1:${server.port} (public ${publicBaseUrl})`);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
});
