/**
 * The one address in front of the API processes: HAProxy, the load balancer a deployment runs (Debian's package
 * for `npm run cluster`, the `haproxy` image in docker-compose.yml; one configuration, `haproxyConfig`, for both).
 * Round robin with health checks; a request an API refused (stopped, restarting) is offered to the next one
 * (`retry-on conn-failure`, `option redispatch`) — it never reached a process, so any method is safe to retry; a
 * process that fails mid-request is the client's 502, to retry as Infobip does. Live feeds stream through.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ManagedProcess, startService } from './services';
import { ensureDebianPackages, HAPROXY_PACKAGE, haproxyBinary } from './system-packages';

export interface LoadBalancerServer {
  name: string;
  /** host:port */
  address: string;
}

/** HAProxy's own refusals, in Janela's error shape (common/error-codes.ts has no row for them: no API answers them). */
const proxyErrors = [
  [502, 'BAD_GATEWAY', 'The API process failed while answering.'],
  [503, 'SERVICE_UNAVAILABLE', 'No Janela API process is reachable.'],
  [504, 'GATEWAY_TIMEOUT', 'The API process did not answer in time.'],
] as const;

/**
 * The configuration. `dockerResolvers`: resolve the servers through Docker's DNS, so a restarted API container is
 * followed to its new address (compose); locally the servers are fixed 127.0.0.1 ports.
 */
export function haproxyConfig(options: { port: number; servers: LoadBalancerServer[]; dockerResolvers?: boolean }) {
  const docker = options.dockerResolvers ?? false;
  const lines = [
    'global',
    ...(docker ? ['  log stdout format raw local0'] : []),
    ...(docker ? ['resolvers docker', '  nameserver dns 127.0.0.11:53'] : []),
    'defaults',
    '  mode http',
    ...(docker ? ['  log global', '  option httplog'] : []),
    '  option forwardfor',
    '  timeout connect 2s',
    '  # Live feeds (GET /api/events) stay open.',
    '  timeout client 1h',
    '  timeout server 1h',
    '  retries 2',
    '  retry-on conn-failure',
    '  option redispatch 1',
    ...proxyErrors.map(
      ([status, code, message]) =>
        `  http-error status ${status} content-type application/json string '${JSON.stringify({ error: { code, message } })}'`,
    ),
    'frontend janela',
    `  bind :${options.port}`,
    '  default_backend janela-api',
    'backend janela-api',
    '  balance roundrobin',
    docker
      ? '  default-server check inter 2s resolvers docker init-addr last,libc,none'
      : '  default-server check inter 1s fall 1 rise 1',
    ...options.servers.map((server) => `  server ${server.name} ${server.address}`),
  ];
  return `${lines.join('\n')}\n`;
}

export interface RunningLoadBalancer extends ManagedProcess {
  port: number;
}

/** Debian's HAProxy on `port` in front of the API processes on `apiPorts` (installed first when missing and root). */
export async function startLoadBalancer(
  port: number,
  apiPorts: number[],
  dir: string,
  progress: (line: string) => void,
): Promise<RunningLoadBalancer> {
  ensureDebianPackages([HAPROXY_PACKAGE], progress);
  const configFile = join(dir, 'haproxy.cfg');
  const servers = apiPorts.map((apiPort, i) => ({ name: `api-${i + 1}`, address: `127.0.0.1:${apiPort}` }));
  writeFileSync(configFile, haproxyConfig({ port, servers }));
  // -db: in the foreground, its messages on our output (the log file).
  const haproxy = await startService('HAProxy', haproxyBinary()!, ['-db', '-f', configFile], port, {
    logFile: join(dir, 'haproxy.log'),
  });
  return { ...haproxy, port };
}
