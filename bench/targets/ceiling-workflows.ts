/**
 * The Temporal ceiling's workflow: a conversation that does nothing but take each inbound signal. The sink tells
 * the worker process which message was handled (sinks run once the activation completes, never on replay).
 */
import { condition, defineSignal, proxySinks, type Sinks, setHandler } from '@temporalio/workflow';

export interface CeilingSinks extends Sinks {
  bench: { handled(providerMessageId: string): void };
}

export const inboundSignal = defineSignal<[{ providerMessageId: string }]>('inbound');

const { bench } = proxySinks<CeilingSinks>();

export async function emptyConversation(): Promise<void> {
  setHandler(inboundSignal, ({ providerMessageId }) => bench.handled(providerMessageId));
  // Open for good, as a conversation is: every later signal reaches the same run.
  await condition(() => false);
}
