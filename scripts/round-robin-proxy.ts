/**
 * The one address in front of `npm run cluster`'s API processes: each request goes to the next process in turn. A
 * process that refuses the connection (stopped, restarting) is skipped for a few seconds and the request goes to
 * the next one (the body is held in memory until an upstream takes it, so it can be offered again); a process
 * that fails mid-request is the client's 502, to retry as Infobip does. Responses stream through (the live feed).
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';

/** How long an upstream that refused a connection is left out. */
const SKIP_MS = 2_000;

export interface RunningProxy {
  port: number;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(
  port: number,
  upstreamPorts: number[],
  host = '0.0.0.0',
): Promise<RunningProxy> {
  let next = 0;
  const skippedUntil = new Map<number, number>();

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, tried: Set<number>) => {
    const candidates = upstreamPorts.filter((p) => !tried.has(p));
    const available = candidates.filter((p) => (skippedUntil.get(p) ?? 0) <= Date.now());
    const pool = available.length > 0 ? available : candidates;
    if (pool.length === 0) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'BAD_GATEWAY', message: 'No Janela API process is reachable.' } }));
      return;
    }
    const upstream = pool[next++ % pool.length]!;
    tried.add(upstream);
    const outgoing = request(
      {
        host: '127.0.0.1',
        port: upstream,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && !res.headersSent) {
        skippedUntil.set(upstream, Date.now() + SKIP_MS);
        forward(req, res, body, tried); // never reached the process: safe to offer to the next
        return;
      }
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'BAD_GATEWAY', message: `The API process failed: ${err.message}` } }));
      } else res.destroy();
    });
    res.on('close', () => outgoing.destroy());
    outgoing.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), new Set()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
