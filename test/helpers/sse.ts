/** Reads a `GET /api/events` stream (server-sent events) the way the console does, for tests. */

export interface StreamEvent {
  event: string;
  data: any;
}

export interface OpenEventStream {
  status: number;
  contentType: string | null;
  /** The error body when the stream was refused (status ≠ 200). */
  refusal: any;
  events: StreamEvent[];
  /** Ids of the conversations and messages announced so far. */
  seen: Set<string>;
  /** How often each message id was announced (once, unless something sent it twice). */
  messageCounts: Map<string, number>;
  /** Ids of the conversations announced so far. */
  conversations: Set<string>;
  readonly ended: boolean;
  close(): Promise<void>;
}

/**
 * Opens the stream with these headers (a bearer token or a console cookie). A 200 is read in the background, each
 * event parsed and kept; any other answer is returned with its error body, nothing to read.
 */
export async function openEventStream(apiUrl: string, headers: Record<string, string>): Promise<OpenEventStream> {
  const controller = new AbortController();
  const response = await fetch(`${apiUrl}/api/events`, { headers, signal: controller.signal });
  const contentType = response.headers.get('content-type');
  const events: StreamEvent[] = [];
  const seen = new Set<string>();
  const messageCounts = new Map<string, number>();
  const conversations = new Set<string>();
  let ended = false;
  if (response.status !== 200) {
    return {
      status: response.status,
      contentType,
      refusal: await response.json(),
      events,
      seen,
      messageCounts,
      conversations,
      ended: true,
      close: async () => {},
    };
  }
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
        const raw = /^data: (.*)$/m.exec(block)?.[1];
        const data = raw ? JSON.parse(raw) : null;
        events.push({ event, data });
        if (event === 'conversation') {
          seen.add(data.id);
          conversations.add(data.id);
        }
        if (event === 'message') {
          seen.add(data.message.id);
          messageCounts.set(data.message.id, (messageCounts.get(data.message.id) ?? 0) + 1);
        }
      }
    }
    ended = true;
  })().catch(() => {
    ended = true;
  });
  const deadline = Date.now() + 10_000;
  while (!events.some((e) => e.event === 'ready')) {
    if (Date.now() > deadline || ended) throw new Error('the stream never said ready');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    status: 200,
    contentType,
    refusal: null,
    events,
    seen,
    messageCounts,
    conversations,
    get ended() {
      return ended;
    },
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}
