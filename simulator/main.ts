import { ConfigError, runMain } from '../common/config';
import { listen } from '../common/http-server';
import { createSimulator } from './app';

await runMain(async () => {
  const port = Number(process.env.SIMULATOR_PORT ?? 3100);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(
      `Invalid configuration: SIMULATOR_PORT=${JSON.stringify(process.env.SIMULATOR_PORT)}: must be a port number`,
    );
  }
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
