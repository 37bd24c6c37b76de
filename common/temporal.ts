import { status as grpcStatus, type Interceptor, type StatusObject } from '@grpc/grpc-js';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';

/**
 * Temporal refuses operations on a workflow for the moment it is closing: a continue-as-new that raced a signal
 * is retried by the worker, which first replays the whole history (a second or two for a long one), and every
 * signal meanwhile is answered RESOURCE_EXHAUSTED with this message.
 */
const WORKFLOW_CLOSING = /workflow is closing/;

const isResourceExhausted = (status: StatusObject) => status.code === grpcStatus.RESOURCE_EXHAUSTED;

/** The gRPC method of a signal-with-start: the webhook's hand-over of an inbound message. */
const SIGNAL_WITH_START = /\/SignalWithStartWorkflowExecution$/;

/**
 * The SDK's retries, except: a busy workflow is tried again after 100 ms rather than the SDK's 1.7 s (it is busy
 * for about a replay), and the webhook's signal-with-start is not retried on RESOURCE_EXHAUSTED at all: the
 * webhook parks the message and answers Infobip at once (api/inbound-parking.ts).
 */
function retryInterceptor(): Interceptor {
  const backoff = {
    initialIntervalMs: (status: StatusObject) =>
      isResourceExhausted(status) && !WORKFLOW_CLOSING.test(status.details) ? 1000 : 100,
  };
  const base = defaultGrpcRetryOptions(backoff);
  const retryAll = makeGrpcRetryInterceptor(base);
  const retryUnlessExhausted = makeGrpcRetryInterceptor({
    ...base,
    retryableDecider: (attempt, status) => !isResourceExhausted(status) && base.retryableDecider(attempt, status),
  });
  return (options, nextCall) =>
    SIGNAL_WITH_START.test(options.method_definition.path)
      ? retryUnlessExhausted(options, nextCall)
      : retryAll(options, nextCall);
}

export async function connectTemporalClient(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address, interceptors: [retryInterceptor()] });
  return new Client({ connection, namespace });
}
