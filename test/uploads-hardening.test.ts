/**
 * Uploads and downloads that go wrong, over real sockets: a cut-off upload, a multipart body that ends early and an
 * inbound media download that breaks mid-way must not take the process down (the API and the worker run in this
 * process, so an unhandled 'error' event lands in the `crashes` list below instead of killing it); and every early
 * refusal of a request with a body must leave a keep-alive client's connection usable.
 */
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import mongoose from 'mongoose';
import { Client, FormData, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DRAIN_LIMIT_BYTES, MAX_REQUEST_BYTES } from '../api/body-limits';
import { ATTACHMENT_TOO_LARGE_MESSAGE } from '../common/media';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
let channel: Awaited<ReturnType<Stack['createChannel']>>;
let agent: { id: string; token: string };
let automation: { id: string; token: string };
let conversationId: string;

const crashes: unknown[] = [];
const onCrash = (err: unknown) => {
  crashes.push(err);
};

beforeAll(async () => {
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  stack = await startStack();
  channel = await stack.createChannel('whatsapp');
  agent = await stack.createAgent([channel.id]);
  automation = await stack.createAgent([channel.id], 'automation');
  await stack.customerWrites(channel, '5511977770001', 'oi');
  conversationId = await waitFor(
    async () =>
      (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body.items[0]?.id,
  );
});

afterAll(async () => {
  await stack?.close();
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
});

afterEach(async () => {
  // The process survived whatever the test did, and still serves.
  expect(crashes.splice(0)).toEqual([]); // cleared: each test answers for its own crashes
  expect((await stack.call('GET', '/healthz')).status).toBe(200);
});

const BOUNDARY = 'janela-hardening-boundary';
const MB = 1024 * 1024;

function partHead(name: string, mime: string): Buffer {
  return Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${mime}\r\n\r\n`,
  );
}

function multipart(name: string, mime: string, size: number): Buffer {
  return Buffer.concat([partHead(name, mime), Buffer.alloc(size, 0x41), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
}

/** GridFS chunks whose file does not exist: what a half-stored, not cleaned-up upload leaves behind. */
async function orphanChunks(): Promise<number> {
  const db = mongoose.connection.db!;
  const fileIds = (await db.collection('media.files').find({}).project({ _id: 1 }).toArray()).map((f) => f._id);
  return db.collection('media.chunks').countDocuments({ files_id: { $nin: fileIds } });
}

const chunkCount = () => mongoose.connection.db!.collection('media.chunks').countDocuments({});

describe('a request that breaks mid-way', () => {
  it('an upload cut off by the client (tab closed) is dropped and cleaned up; the API keeps serving', async () => {
    const url = new URL(stack.api.url);
    const before = await chunkCount();
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const head = partHead('cut-off.pdf', 'application/pdf');
    socket.write(
      [
        'POST /api/attachments HTTP/1.1',
        `Host: ${url.host}`,
        `Authorization: Bearer ${agent.token}`,
        `Content-Type: multipart/form-data; boundary=${BOUNDARY}`,
        `Content-Length: ${head.length + 8 * MB}`,
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(head);
    // Keep sending until GridFS holds part of the file, so the cut lands mid-store with writes in flight.
    const piece = Buffer.alloc(256 * 1024, 0x42);
    let sent = 0;
    await waitFor(
      async () => {
        if (sent < 6 * MB) {
          socket.write(piece);
          sent += piece.length;
        }
        return (await chunkCount()) > before;
      },
      20_000,
      'part of the upload to be stored',
    );
    for (let i = 0; i < 4; i++) socket.write(piece);
    socket.destroy();

    await waitFor(async () => (await orphanChunks()) === 0, 20_000, 'the half-stored upload to be deleted');
    expect(await chunkCount()).toBe(before);
    const files = await mongoose.connection.db!.collection('media.files').countDocuments({ filename: 'cut-off.pdf' });
    expect(files).toBe(0);
  });

  it('a multipart body that ends early is a 400 and stores nothing', async () => {
    const body = Buffer.concat([partHead('truncated.pdf', 'application/pdf'), Buffer.alloc(600 * 1024, 0x43)]);
    const response = await fetch(`${stack.api.url}/api/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body,
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('INVALID_MULTIPART');
    expect(await orphanChunks()).toBe(0);
    const files = await mongoose.connection.db!.collection('media.files').countDocuments({ filename: 'truncated.pdf' });
    expect(files).toBe(0);

    // The file part complete (stored), but the form never closed: a 400, and the stored file is deleted again.
    const unclosed = await fetch(`${stack.api.url}/api/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: Buffer.concat([
        partHead('unclosed.pdf', 'application/pdf'),
        Buffer.alloc(300 * 1024, 0x43),
        Buffer.from(`\r\n--${BOUNDARY}\r\n`),
      ]),
    });
    expect(unclosed.status).toBe(400);
    expect(((await unclosed.json()) as any).error.code).toBe('INVALID_MULTIPART');
    expect(await orphanChunks()).toBe(0);
    const kept = await mongoose.connection.db!.collection('media.files').countDocuments({ filename: 'unclosed.pdf' });
    expect(kept).toBe(0);
  });

  it('an inbound media download that breaks mid-way is retried and stored whole; the worker survives', async () => {
    const size = 700_000; // three GridFS chunks: the break lands while chunks are being written
    const sent = await stack.customerWrites(channel, '5511977770002', '', {
      type: 'IMAGE',
      mediaSize: size,
      mediaType: 'image/jpeg',
      mediaBreakAfter: 400_000,
      mediaBreaks: 1,
    });
    const mediaUrl = sent.payload.results[0].message.url as string;
    const conversation = await waitFor(async () =>
      (
        (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body
          .items as any[]
      ).find((c) => c.client.phone === '5511977770002'),
    );
    const message = await waitFor(
      async () => {
        const items = (
          await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)
        ).body.items as any[];
        return items.find((m) => m.media?.stored);
      },
      40_000,
      'the media to be stored after a retry',
    );
    // The first download broke (the simulator cut the connection), the retry got the whole file.
    const downloads = (await stack.infobipRequests('/whatsapp/1/senders/')).filter((r) => mediaUrl.endsWith(r.path));
    expect(downloads.length).toBeGreaterThanOrEqual(2);
    expect(message.media.size).toBe(size);
    const file = await fetch(`${stack.api.url}${message.media.url}`, {
      headers: { authorization: `Bearer ${agent.token}` },
    });
    expect((await file.arrayBuffer()).byteLength).toBe(size);
    expect(await orphanChunks()).toBe(0);
  });
});

describe('early refusals keep a keep-alive connection usable', () => {
  let client: Client;
  let connections = 0;

  beforeAll(() => {
    // One connection, kept alive, as Node's fetch would hold it.
    client = new Client(stack.api.url, { keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
    client.on('connect', () => {
      connections++;
    });
  });
  afterAll(async () => {
    await client?.close();
  });

  async function post(path: string, token: string | null, contentType: string, body: Buffer | Readable, extra = {}) {
    const response = await client.request({
      path,
      method: 'POST',
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        'content-type': contentType,
        ...extra,
      },
      body,
    });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, body: JSON.parse(text) as any };
  }

  const upload = (token: string | null, name: string, mime: string, size: number) =>
    post('/api/attachments', token, `multipart/form-data; boundary=${BOUNDARY}`, multipart(name, mime, size));

  /**
   * A body sent in pieces over about 1.2 s, as from a slow uplink: the server has to wait for its end before
   * answering (reading for a moment after answering, as @hono/node-server does, would not be enough).
   */
  function slowly(buffer: Buffer, pieces = 12, delayMs = 100): Readable {
    let next = 0;
    const size = Math.ceil(buffer.length / pieces);
    return new Readable({
      read() {
        if (next >= buffer.length) return void this.push(null);
        const piece = buffer.subarray(next, next + size);
        next += size;
        setTimeout(() => this.push(piece), delayMs);
      },
    });
  }

  const slowUpload = (token: string) =>
    post(
      '/api/attachments',
      token,
      `multipart/form-data; boundary=${BOUNDARY}`,
      slowly(multipart('a.pdf', 'application/pdf', 3 * MB)),
    );

  /** The request after a refusal: a small upload that must succeed. */
  async function followUp() {
    const ok = await upload(agent.token, 'small.png', 'image/png', 20_000);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ kind: 'image', size: 20_000 });
  }

  it('413 by size while streaming (6 MB image), then a small image and a note, with fetch on one socket', async () => {
    const fetchUpload = (size: number, name: string) => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(size)], { type: 'image/jpeg' }), name);
      return undiciFetch(`${stack.api.url}/api/attachments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agent.token}` },
        body: form,
        dispatcher: client,
      });
    };
    const start = connections;
    const big = await fetchUpload(6 * MB, 'big.jpg');
    expect(big.status).toBe(413);
    expect(big.headers.get('connection')).not.toBe('close');
    expect(((await big.json()) as any).error).toMatchObject({
      code: 'ATTACHMENT_TOO_LARGE',
      message: ATTACHMENT_TOO_LARGE_MESSAGE,
    });
    const small = await fetchUpload(50_000, 'small.jpg');
    expect(small.status).toBe(201);
    await small.json();
    const note = await undiciFetch(`${stack.api.url}/api/conversations/${conversationId}/notes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'after a refused upload' }),
      dispatcher: client,
    });
    expect(note.status).toBe(201);
    await note.json();
    expect(connections - start).toBeLessThanOrEqual(1); // the first call may open it; nothing reopened it
    expect(await orphanChunks()).toBe(0);
  });

  it('401 for a wrong token with a slowly sent 3 MB body, then a success on the same socket', async () => {
    await followUp();
    const start = connections;
    const refused = await slowUpload('not-a-valid-token');
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('UNAUTHORIZED');
    await followUp();
    expect(connections).toBe(start);
  });

  it('403 for an automation token with a slowly sent 3 MB body, then a success on the same socket', async () => {
    await followUp();
    const start = connections;
    const refused = await slowUpload(automation.token);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    await followUp();
    expect(connections).toBe(start);
  });

  it('400 for multipart without a boundary (not a 500), then a success on the same socket', async () => {
    await followUp();
    const start = connections;
    const refused = await post('/api/attachments', agent.token, 'multipart/form-data', Buffer.alloc(2 * MB, 0x44));
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('INVALID_MULTIPART');
    await followUp();
    expect(connections).toBe(start);
  });

  it('413 by Content-Length up front: answered without reading the body, Connection: close, next request fine', async () => {
    await followUp();
    const start = connections;
    const declared = MAX_REQUEST_BYTES + MB;
    let produced = 0;
    const body = new Readable({
      read() {
        if (produced >= declared) return this.push(null);
        const n = Math.min(MB, declared - produced);
        produced += n;
        this.push(Buffer.alloc(n, 0x45));
      },
    });
    const refused = await post('/api/attachments', agent.token, `multipart/form-data; boundary=${BOUNDARY}`, body, {
      'content-length': String(declared),
    });
    expect(refused.status).toBe(413);
    expect(refused.body.error.code).toBe('ATTACHMENT_TOO_LARGE');
    expect(refused.headers.connection).toBe('close');
    expect(produced).toBeLessThan(declared); // refused before the body was read
    await followUp(); // on a new connection, without UND_ERR_SOCKET
    expect(connections).toBe(start + 1);
  });

  it('413 whose unread rest exceeds the drain bound: Connection: close, next request fine', async () => {
    await followUp();
    const start = connections;
    const refused = await upload(agent.token, 'huge.jpg', 'image/jpeg', 5 * MB + DRAIN_LIMIT_BYTES + 4 * MB);
    expect(refused.status).toBe(413);
    expect(refused.headers.connection).toBe('close');
    await followUp();
    expect(connections).toBe(start + 1);
    expect(await orphanChunks()).toBe(0);
  });
});
