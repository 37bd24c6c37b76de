import { ConfigError, loadEnv, runMain } from '../common/config';
import { listen } from '../common/http-server';
import { createSimulator } from './app';

await runMain(async () => {
  const port = loadEnv().SIMULATOR_PORT;
  if (port === 'off')
    throw new ConfigError('Invalid configuration: SIMULATOR_PORT=off: `npm run simulator` needs a port');
  const simulator = createSimulator();
  const server = await listen(simulator.app.fetch, port);
  console.log(`Infobip simulator: ${server.url}  (control routes under ${server.url}/_sim)`);
  const stop = async () => {
    simulator.close();
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
});
