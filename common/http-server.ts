import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

export interface RunningServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Serves a fetch handler (a Hono app) on 127.0.0.1:port (0 = any free port). */
export async function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  port: number,
  hostname = '127.0.0.1',
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        url: `http://${hostname}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            const s = server as unknown as { close(cb: () => void): void; closeAllConnections?: () => void };
            s.close(() => done());
            s.closeAllConnections?.();
          }),
      });
    });
    server.once('error', reject);
  });
}
