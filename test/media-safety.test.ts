/**
 * A customer's (or an agent's) file must never run script on Janela's origin, never be fetched from anywhere but
 * the channel's Infobip host, and never leave the agent a file that silently never opens (orphaned chunks:
 * media-sweep.test.ts). Real API, worker, database, Temporal and simulator; the files are the ones that
 * caused issue 24: an HTML "document", an SVG "image" with script, a media URL pointing at Janela's own /metrics.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInboundMediaActivities } from '../activities/inbound-media';
import { identifyMedia } from '../common/media';
import { storeMedia } from '../db/media';
import { Message } from '../db/models';
import { HTML_PAGE, PNG_1PX, SVG_WITH_SCRIPT } from './helpers/media-files';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
let channel: Awaited<ReturnType<Stack['createChannel']>>;
let agent: { id: string; token: string };
/** A host that is not the channel's Infobip host, counting every request it gets. */
let elsewhere: Server;
let elsewhereUrl: string;
const elsewhereHits: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  channel = await stack.createChannel('whatsapp');
  agent = await stack.createAgent([channel.id]);
  elsewhere = createServer((req, res) => {
    elsewhereHits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end(PNG_1PX);
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
});

afterAll(async () => {
  elsewhere?.close();
  await stack?.close();
});

/** The customer sends a file; returns the message once its download has ended (stored or failed). */
async function customerSends(from: string, extra: Record<string, unknown>) {
  await stack.customerWrites(channel, from, '', { text: undefined, ...extra });
  const conversation = await waitFor(async () =>
    (await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)).body.items.find(
      (c: any) => c.client.phone === from,
    ),
  );
  return waitFor(
    async () => {
      const list = (await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token))
        .body.items;
      const message = list.find((m: any) => m.media);
      return message && message.media.status !== 'downloading' ? message : null;
    },
    30_000,
    'the media download to end',
  );
}

async function open(path: string, method: 'GET' | 'HEAD' = 'GET', token: string | null = agent.token) {
  const response = await fetch(`${stack.api.url}${path}`, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const body = method === 'GET' ? Buffer.from(await response.arrayBuffer()) : null;
  return { status: response.status, headers: response.headers, body };
}

async function upload(content: Buffer | string, name: string, type: string) {
  const form = new FormData();
  form.append('file', new Blob([content], { type }), name);
  const response = await fetch(`${stack.api.url}/api/attachments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${agent.token}` },
    body: form,
  });
  return { status: response.status, body: (await response.json()) as any };
}

function expectSandboxed(headers: Headers) {
  expect(headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
  expect(headers.get('x-content-type-options')).toBe('nosniff');
}

/** A download: `application/octet-stream`, `attachment`, under the file's own name. */
function expectDownload(headers: Headers, name: string) {
  expect(headers.get('content-type')).toBe('application/octet-stream');
  expect(headers.get('content-disposition')).toMatch(/^attachment; /);
  expect(headers.get('content-disposition')).toContain(`filename*=UTF-8''${encodeURIComponent(name)}`);
  expectSandboxed(headers);
}

describe("a customer's file that would run script", () => {
  it('an HTML document is stored as a plain file and served as a sandboxed download (GET and HEAD)', async () => {
    const message = await customerSends('5511960000001', {
      type: 'DOCUMENT',
      mediaType: 'text/html',
      mediaBody: HTML_PAGE,
      filename: 'boleto.html',
    });
    expect(message.media).toMatchObject({
      status: 'stored',
      stored: true,
      mime: 'application/octet-stream',
      name: 'boleto.html',
      error: null,
      errorCode: null,
    });
    for (const method of ['GET', 'HEAD'] as const) {
      const file = await open(message.media.url, method);
      expect(file.status).toBe(200);
      expectDownload(file.headers, 'boleto.html');
      if (method === 'GET') expect(file.body!.toString()).toBe(HTML_PAGE); // the agent still gets the file itself
    }
  });

  it('an SVG "image" with script is a document, downloaded, never shown as an image', async () => {
    const message = await customerSends('5511960000002', {
      type: 'IMAGE',
      mediaType: 'image/svg+xml',
      mediaBody: SVG_WITH_SCRIPT,
      filename: 'foto.svg',
    });
    expect(message.media).toMatchObject({ status: 'stored', mime: 'application/octet-stream', name: 'foto.svg' });
    const file = await open(message.media.url);
    expectDownload(file.headers, 'foto.svg');
  });

  it('a file declared text/html whose bytes are a PNG is stored as the PNG it is, and shown inline', async () => {
    const message = await customerSends('5511960000003', {
      type: 'DOCUMENT',
      mediaType: 'text/html',
      mediaBody: PNG_1PX.toString('base64'),
      mediaBodyEncoding: 'base64',
      filename: 'comprovante.html',
    });
    expect(message.media).toMatchObject({ status: 'stored', mime: 'image/png', size: PNG_1PX.length });
    const file = await open(message.media.url);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(file.headers.get('content-disposition')).toMatch(/^inline; /);
    expectSandboxed(file.headers);
  });

  it('a PDF is downloaded on the agent route (a sandboxed PDF would not render) and keeps its type for Infobip', async () => {
    const message = await customerSends('5511960000004', {
      type: 'DOCUMENT',
      mediaType: 'application/pdf',
      mediaBody: '%PDF-1.4\n%%EOF\n',
      filename: 'nota.pdf',
    });
    expect(message.media).toMatchObject({ status: 'stored', mime: 'application/pdf' });
    expectDownload((await open(message.media.url)).headers, 'nota.pdf');
  });
});

describe("an agent's upload that would run script", () => {
  const cases = [
    { name: 'pagina.html', type: 'text/html', content: HTML_PAGE },
    { name: 'logo.svg', type: 'image/svg+xml', content: SVG_WITH_SCRIPT },
    // Declared as nothing in particular: the extension says HTML.
    { name: 'oferta.htm', type: 'application/octet-stream', content: HTML_PAGE },
    { name: 'dados.xml', type: 'text/xml', content: '<?xml version="1.0"?><a xmlns="http://www.w3.org/1999/xhtml"/>' },
  ];
  for (const item of cases)
    it(`${item.name} (${item.type}) is stored as a plain document and downloaded from both routes`, async () => {
      const uploaded = await upload(item.content, item.name, item.type);
      expect(uploaded.status).toBe(201);
      expect(uploaded.body).toMatchObject({ mime: 'application/octet-stream', kind: 'document', name: item.name });
      for (const method of ['GET', 'HEAD'] as const) {
        const agentRoute = await open(`/api/media/${uploaded.body.id}`, method);
        expect(agentRoute.status).toBe(200);
        expectDownload(agentRoute.headers, item.name);
        const publicRoute = await open(new URL(uploaded.body.url).pathname, method, null);
        expect(publicRoute.status).toBe(200);
        expectDownload(publicRoute.headers, item.name);
      }
    });

  it('a PNG declared image/svg+xml is stored as the image it is; images stay inline for agents', async () => {
    const uploaded = await upload(PNG_1PX, 'foto.svg', 'image/svg+xml');
    expect(uploaded.body).toMatchObject({ mime: 'image/png', kind: 'image' });
    const agentRoute = await open(`/api/media/${uploaded.body.id}`);
    expect(agentRoute.headers.get('content-type')).toBe('image/png');
    expect(agentRoute.headers.get('content-disposition')).toMatch(/^inline; /);
    expectSandboxed(agentRoute.headers);
    // The public link Infobip fetches from: the image's own type, as an attachment.
    const publicRoute = await open(new URL(uploaded.body.url).pathname, 'GET', null);
    expect(publicRoute.headers.get('content-type')).toBe('image/png');
    expect(publicRoute.headers.get('content-disposition')).toMatch(/^attachment; /);
    expectSandboxed(publicRoute.headers);
  });

  it('a PDF keeps application/pdf on the public link (WhatsApp checks the type it fetches), as an attachment', async () => {
    const uploaded = await upload('%PDF-1.4\n%%EOF\n', 'boleto.pdf', 'application/pdf');
    expect(uploaded.body).toMatchObject({ mime: 'application/pdf', kind: 'document' });
    const publicRoute = await open(new URL(uploaded.body.url).pathname, 'GET', null);
    expect(publicRoute.headers.get('content-type')).toBe('application/pdf');
    expect(publicRoute.headers.get('content-disposition')).toMatch(/^attachment; /);
    expectSandboxed(publicRoute.headers);
    expectDownload((await open(`/api/media/${uploaded.body.id}`)).headers, 'boleto.pdf');
  });

  it('a file stored as text/html before types were sniffed is still served as a sandboxed download', async () => {
    const stored = await storeMedia(Readable.from([Buffer.from(HTML_PAGE)]), () => ({
      meta: {
        kind: 'document',
        mime: 'text/html',
        name: 'antigo.html',
        source: 'upload',
        channelId: null,
        uploadedBy: agent.id,
      },
      limitBytes: 1024 * 1024,
    }));
    expectDownload((await open(`/api/media/${stored.id}`)).headers, 'antigo.html');
    expectDownload((await open(`/media/${stored.publicToken}`, 'GET', null)).headers, 'antigo.html');
  });

  it('a name with quotes, non-ASCII and a lone surrogate makes a valid header', async () => {
    const name = 'fatura "março" \ud800.pdf';
    const stored = await storeMedia(Readable.from([Buffer.from('%PDF-1.4\n')]), (head) => ({
      meta: {
        ...identifyMedia('application/pdf', name, head),
        name,
        source: 'upload',
        channelId: null,
        uploadedBy: agent.id,
      },
      limitBytes: 1024 * 1024,
    }));
    const file = await open(`/api/media/${stored.id}`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-disposition')).toBe(
      `attachment; filename="fatura _mar_o_ _.pdf"; filename*=UTF-8''${encodeURIComponent('fatura "março" \ufffd.pdf')}`,
    );
  });
});

describe("where a customer's file may come from, and what the agent sees when it does not come", () => {
  it("a media URL on Janela's own API (/metrics) is not fetched: the message is stored with a visible failure", async () => {
    const message = await customerSends('5511960000010', {
      type: 'DOCUMENT',
      url: `${stack.api.url}/metrics`,
      filename: 'metrics.txt',
    });
    expect(message.media).toMatchObject({
      status: 'failed',
      stored: false,
      url: null,
      errorCode: 'MEDIA_HOST_REFUSED',
    });
    expect(message.media.error).toContain("not on the channel's Infobip host");
    expect(message.type).toBe('document');
    // Nothing was stored under the customer's name.
    expect(await mongoose.connection.db!.collection('media.files').countDocuments({ filename: 'metrics.txt' })).toBe(0);
  });

  it('a media URL on another host is never requested; the conversation goes on', async () => {
    const message = await customerSends('5511960000011', { type: 'IMAGE', url: `${elsewhereUrl}/cat.jpg` });
    expect(message.media).toMatchObject({ status: 'failed', errorCode: 'MEDIA_HOST_REFUSED' });
    // Same host and path on another port or scheme is another origin too.
    const sim = new URL(stack.simulatorUrl);
    const otherPort = await customerSends('5511960000012', {
      type: 'IMAGE',
      url: `http://${sim.hostname}:${(elsewhere.address() as AddressInfo).port}/whatsapp/1/senders/x/media/y`,
    });
    expect(otherPort.media).toMatchObject({ status: 'failed', errorCode: 'MEDIA_HOST_REFUSED' });
    expect(elsewhereHits).toEqual([]);
    // The customer's next message is stored and the agent's reply goes out.
    await stack.customerWrites(channel, '5511960000011', 'recebeu?');
    const conversation = (
      await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)
    ).body.items.find((c: any) => c.client.phone === '5511960000011');
    await waitFor(async () =>
      (
        await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)
      ).body.items.some((m: any) => m.text === 'recebeu?'),
    );
    const reply = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'Não conseguimos abrir a imagem, pode reenviar?' },
      agent.token,
    );
    expect(reply.status).toBe(202);
    await waitFor(async () =>
      (await stack.infobipRequests('/whatsapp/1/message/text')).some((r) => r.body.content.text.includes('reenviar')),
    );
  });

  it('a file Infobip will not hand over (404) fails visibly, with its reason', async () => {
    const message = await customerSends('5511960000013', {
      type: 'DOCUMENT',
      url: `${stack.simulatorUrl}/whatsapp/1/senders/x/media/does-not-exist`,
    });
    expect(message.media).toMatchObject({ status: 'failed', errorCode: 'MEDIA_REFUSED' });
    expect(message.media.error).toContain('Media not found');
  });

  it('a download that keeps breaking fails visibly on its last attempt instead of waiting forever', async () => {
    // The simulator's file breaks on every download; the activity runs as Temporal runs its last attempt.
    await stack.customerWrites(channel, '5511960000014', '', {
      text: undefined,
      type: 'VIDEO',
      mediaSize: 300_000,
      mediaBreakAfter: 1000,
      mediaBreaks: 1000,
    });
    const message = await waitFor(async () =>
      Message.findOne({ channelId: channel.id, type: 'video', 'media.url': { $exists: true } }).lean(),
    );
    const activities = createInboundMediaActivities({});
    const retryPolicy = { maximumAttempts: 10, initialInterval: 2000, backoffCoefficient: 2, maximumInterval: 120_000 };
    // Any attempt but the last fails (and is retried by Temporal), leaving no failure on the message.
    await expect(
      new MockActivityEnvironment({ attempt: 3, retryPolicy }).run(activities.fetchInboundMedia, {
        messageId: message._id,
      }),
    ).rejects.toThrow();
    const lastAttempt = await new MockActivityEnvironment({ attempt: 10, retryPolicy }).run(
      activities.fetchInboundMedia,
      { messageId: message._id },
    );
    expect(lastAttempt).toEqual({ stored: false });
    const conversation = (
      await stack.call('GET', `/api/conversations?channelId=${channel.id}`, undefined, agent.token)
    ).body.items.find((c: any) => c.client.phone === '5511960000014');
    const shown = await waitFor(async () =>
      (
        await stack.call('GET', `/api/conversations/${conversation.id}/messages`, undefined, agent.token)
      ).body.items.find((m: any) => m.media?.status === 'failed'),
    );
    expect(shown.media).toMatchObject({ status: 'failed', errorCode: 'MEDIA_DOWNLOAD_FAILED', url: null });
    expect(shown.media.error).toMatch(/failed 10 times/);
  });
  it('a trickling download is cut before Temporal gives its attempt up; on the last attempt the agent learns why', async () => {
    // The channel's own Infobip host sends its file a few bytes at a time (for 6 s, then drops the connection).
    const trickling = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': '1000000' });
      const timer = setInterval(() => res.write(Buffer.alloc(600, 1)), 200);
      setTimeout(() => {
        clearInterval(timer);
        res.destroy();
      }, 6_000);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => trickling.listen(0, '127.0.0.1', resolve));
    try {
      const slowHost = `http://127.0.0.1:${(trickling.address() as AddressInfo).port}`;
      const slowChannel = await stack.createChannel('whatsapp', { apiBaseUrl: slowHost, sender: '447860011111' });
      await stack.customerWrites(slowChannel, '5511960000015', '', {
        type: 'VIDEO',
        url: `${slowHost}/whatsapp/1/senders/447860011111/media/slow`,
      });
      const message = await waitFor(async () => Message.findOne({ channelId: slowChannel.id, type: 'video' }).lean());
      const started = Date.now();
      const outcome = await new MockActivityEnvironment({
        attempt: 10,
        retryPolicy: { maximumAttempts: 10 },
        startToCloseTimeoutMs: 12_000,
      }).run(createInboundMediaActivities({}).fetchInboundMedia, { messageId: message._id });
      expect(outcome).toEqual({ stored: false });
      expect(Date.now() - started).toBeLessThan(5_000); // cut at 12 s − 10 s, long before the host gave up
      const stored = await Message.findById(message._id).lean();
      expect(stored!.media).toMatchObject({ errorCode: 'MEDIA_DOWNLOAD_FAILED' });
      expect((stored!.media as { error: string }).error).toContain('longer than an attempt may last');
    } finally {
      trickling.close();
      trickling.closeAllConnections();
    }
  });
});
