/**
 * A gRPC (HTTP/2) proxy in front of the real Temporal server that answers chosen calls with a gRPC error instead
 * of forwarding them, as Temporal itself answers them in moments a test cannot bring about on cue (a signal to a
 * workflow whose continue-as-new is being retried). Everything else goes through unchanged.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface GrpcFault {
  /** gRPC status code (8: RESOURCE_EXHAUSTED). */
  code: number;
  message: string;
}

export async function startGrpcFaultProxy(upstreamAddress: string) {
  const upstream = http2.connect(`http://${upstreamAddress}`);
  upstream.on('error', () => {});
  /** Per gRPC method name: the faults still to answer, first first. */
  const pending = new Map<string, GrpcFault[]>();
  const answered: { method: string; code: number }[] = [];

  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const method = String(headers[':path']).split('/').pop() ?? '';
    const fault = pending.get(method)?.shift();
    if (fault) {
      answered.push({ method, code: fault.code });
      stream.on('data', () => {});
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(fault.code),
          'grpc-message': encodeURIComponent(fault.message),
        },
        { endStream: true },
      );
      return;
    }
    const forwarded: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name === ':authority' || name === ':scheme') continue;
      forwarded[name] = value;
    }
    const call = upstream.request(forwarded);
    let trailers: http2.IncomingHttpHeaders = {};
    stream.pipe(call);
    call.on('response', (responseHeaders) => {
      const { ':status': status, ...rest } = responseHeaders;
      stream.respond({ ':status': status ?? 200, ...rest }, { waitForTrailers: true });
    });
    call.on('trailers', (received) => {
      trailers = received;
    });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    call.pipe(stream);
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('error', () => call.close(http2.constants.NGHTTP2_CANCEL));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    address: `127.0.0.1:${port}`,
    /** The next `count` calls of `method` (e.g. SignalWithStartWorkflowExecution) are answered with `fault`. */
    fail(method: string, count: number, fault: GrpcFault) {
      pending.set(method, [...(pending.get(method) ?? []), ...Array.from({ length: count }, () => fault)]);
    },
    /** Faults not answered yet, per method. */
    left(method: string) {
      return pending.get(method)?.length ?? 0;
    },
    answered,
    async close() {
      upstream.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
