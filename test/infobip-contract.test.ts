import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACHMENT_TOO_LARGE_MESSAGE } from '../common/media';
import { Message, Template } from '../db/models';
import { infobipTime } from '../simulator/app';
import { type Stack, startStack, waitFor } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  // A short Infobip timeout makes the timeout-retry path quick to exercise.
  stack = await startStack({ infobipTimeoutMs: 4000 });
});
afterAll(async () => {
  await stack?.close();
});

const MB = 1024 * 1024;

async function openChat(kind: 'whatsapp' | 'viber', customer: string, channelOverrides: Record<string, unknown> = {}) {
  await stack.sim('DELETE', '/_sim/faults');
  const channel = await stack.createChannel(kind, channelOverrides);
  const agent = await stack.createAgent([channel.id]);
  await stack.customerWrites(channel, customer, 'oi');
  const conversation = await stack.conversationSeenBy(channel, agent);
  return { channel, agent, conversation };
}

/** Uploads a generated file through multipart, streamed: the whole body never exists in memory. */
async function upload(token: string, name: string, mime: string, size: number, prefix = new Uint8Array()) {
  const boundary = `----janela${Math.random().toString(16).slice(2)}`;
  const head = new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${mime}\r\n\r\n`,
  );
  const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
  let sent = 0;
  let stage = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (stage === 0) {
        stage = 1;
        return controller.enqueue(head);
      }
      if (sent < size) {
        const n = Math.min(256 * 1024, size - sent);
        const chunk = new Uint8Array(n).fill(65);
        if (sent === 0) chunk.set(prefix.subarray(0, n));
        sent += n;
        return controller.enqueue(chunk);
      }
      if (stage === 1) {
        stage = 2;
        return controller.enqueue(tail);
      }
      controller.close();
    },
  });
  const response = await fetch(`${stack.api.url}/api/attachments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: response.status, body: (await response.json()) as any };
}

function writeAndClose(path: string): string {
  writeFileSync(path, '');
  return path;
}

/** Uploads a file from disk with curl, so the request body is produced outside this process. */
function curlUpload(token: string, path: string, mime: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      [
        '-s',
        '-o',
        '-',
        '-w',
        '\n%{http_code}',
        '-H',
        `authorization: Bearer ${token}`,
        '-F',
        `file=@${path};type=${mime}`,
        `${stack.api.url}/api/attachments`,
      ],
      { maxBuffer: 1024 * 1024 },
      (err, stdout) => {
        if (err) return reject(err);
        const lines = stdout.trimEnd().split('\n');
        const status = Number(lines.pop());
        resolve({ status, body: JSON.parse(lines.join('\n')) });
      },
    );
  });
}

describe('inbound: every WhatsApp type, over real HTTP, in one batched body', () => {
  it('parses each type into the message model, keeps unknown types, stores media', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const customer = '5511988880001';
    const base = {
      webhookUrl: channel.webhookUrl,
      channel: 'whatsapp',
      from: customer,
      to: channel.sender,
      contactName: 'Tipos',
    };
    const response = await stack.sim('POST', '/_sim/inbound', {
      ...base,
      type: 'TEXT',
      text: 'primeira',
      batch: [
        { type: 'IMAGE', caption: 'foto do produto', mediaSize: 3000, mediaType: 'image/jpeg' },
        {
          type: 'DOCUMENT',
          caption: 'nota',
          filename: 'nota-fiscal.pdf',
          mediaSize: 5000,
          mediaType: 'application/pdf',
        },
        { type: 'VIDEO', mediaSize: 4000 },
        { type: 'AUDIO', mediaSize: 1000 },
        { type: 'VOICE', mediaSize: 1200 },
        { type: 'STICKER', mediaSize: 800 },
        {
          type: 'LOCATION',
          message: {
            latitude: -23.55,
            longitude: -46.63,
            name: 'Loja Centro',
            address: 'Av. Paulista, 1000',
            url: null,
          },
        },
        {
          type: 'CONTACT',
          message: {
            contacts: [
              {
                name: { firstName: 'Ana', lastName: 'Souza', formattedName: 'Ana Souza' },
                phones: [{ phone: '5511999990000', type: 'CELL' }],
              },
            ],
          },
        },
        { type: 'BUTTON', text: 'Sim', message: { payload: 'CONFIRM_YES' } },
        { type: 'INTERACTIVE_BUTTON_REPLY', message: { id: 'btn-2', title: 'Falar com atendente' } },
        {
          type: 'INTERACTIVE_LIST_REPLY',
          message: { id: 'row-7', title: 'Trocar produto', description: 'Até 30 dias' },
        },
        { type: 'INTERACTIVE_FLOW_REPLY', message: { response: '{"rating":5}', name: 'survey' } },
        { type: 'REACTION', message: { emoji: '👍', context: { id: 'wamid.previous' } } },
        {
          type: 'ORDER',
          message: {
            catalogId: 'cat-1',
            productItems: [{ productRetailerId: 'sku-1', quantity: 2, itemPrice: 10.5, currency: 'BRL' }],
          },
        },
        { type: 'BRAND_NEW_TYPE', message: { whatever: { nested: true } } },
      ],
    });
    expect(response.body.webhook.status).toBe(200);
    expect(response.body.webhook.body.accepted.inbound).toBe(16);

    const conversation = await stack.conversationSeenBy(channel, agent);
    const items = await waitFor(
      async () => {
        const list = await stack.timeline(conversation.id, agent.token);
        return list.length === 16 ? list : null;
      },
      30_000,
      'all 16 messages',
    );
    expect(items.map((m) => m.type)).toEqual([
      'text',
      'image',
      'document',
      'video',
      'audio',
      'voice',
      'sticker',
      'location',
      'contacts',
      'button_reply',
      'button_reply',
      'list_reply',
      'flow_reply',
      'reaction',
      'order',
      'unsupported',
    ]);
    const byType = (type: string) => items.find((m) => m.type === type);
    expect(byType('image').text).toBe('foto do produto');
    expect(byType('location')).toMatchObject({
      text: 'Loja Centro, Av. Paulista, 1000 (-23.55, -46.63)',
      details: { location: { latitude: -23.55, longitude: -46.63 } },
    });
    expect(byType('contacts')).toMatchObject({ text: 'Ana Souza (5511999990000)' });
    expect(items[9]).toMatchObject({ text: 'Sim', details: { reply: { id: 'CONFIRM_YES', title: 'Sim' } } });
    expect(items[10]).toMatchObject({ text: 'Falar com atendente', details: { reply: { id: 'btn-2' } } });
    expect(byType('list_reply')).toMatchObject({
      text: 'Trocar produto',
      details: { reply: { id: 'row-7', description: 'Até 30 dias' } },
    });
    expect(byType('flow_reply').details.flow).toEqual({ name: 'survey', response: { rating: 5 } });
    expect(byType('reaction')).toMatchObject({
      text: '👍',
      details: { reaction: { emoji: '👍' }, replyToProviderMessageId: 'wamid.previous' },
    });
    expect(byType('order').details.order).toMatchObject({
      catalogId: 'cat-1',
      items: [{ productRetailerId: 'sku-1', quantity: 2 }],
    });
    expect(byType('unsupported').raw).toMatchObject({ type: 'BRAND_NEW_TYPE', whatever: { nested: true } });

    // Media is fetched from Infobip with the channel key and stored; agents open it from Janela.
    const media = await waitFor(
      async () => {
        const list = await stack.timeline(conversation.id, agent.token);
        const withMedia = list.filter((m) => m.media);
        return withMedia.length === 6 && withMedia.every((m) => m.media.stored) ? withMedia : null;
      },
      30_000,
      'media to be stored',
    );
    const downloads = await stack.infobipRequests('/whatsapp/1/senders/');
    expect(downloads).toHaveLength(6);
    expect(downloads.every((r) => r.headers.authorization === `App ${channel.apiKey}`)).toBe(true);
    const doc = media.find((m) => m.type === 'document');
    expect(doc.media).toMatchObject({ name: 'nota-fiscal.pdf', mime: 'application/pdf', size: 5000 });
    const file = await fetch(`${stack.api.url}${doc.media.url}`, {
      headers: { authorization: `Bearer ${agent.token}` },
    });
    expect(file.status).toBe(200);
    // Agents download a PDF (served sandboxed, Chromium's viewer would not show it): test/media-safety.test.ts.
    expect(file.headers.get('content-type')).toBe('application/octet-stream');
    expect(file.headers.get('content-disposition')).toMatch(/^attachment; filename="nota-fiscal.pdf"/);
    expect((await file.arrayBuffer()).byteLength).toBe(5000);
    const outsider = await stack.createAgent([]);
    expect(
      (await fetch(`${stack.api.url}${doc.media.url}`, { headers: { authorization: `Bearer ${outsider.token}` } }))
        .status,
    ).toBe(404);
  });

  it('tolerates nulls, extra fields and +0000 timestamps; a missing media file is kept with its error', async () => {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const body = {
      results: [
        {
          from: '5511988880002',
          to: channel.sender,
          integrationType: 'WHATSAPP',
          receivedAt: '2030-01-01T10:00:00.000+0000',
          messageId: 'wamid.nulls',
          pairedMessageId: null,
          callbackData: null,
          message: {
            type: 'IMAGE',
            url: `${stack.simulatorUrl}/whatsapp/1/senders/x/media/does-not-exist`,
            caption: null,
            context: null,
            referral: null,
          },
          contact: null,
          price: null,
          entityId: null,
          applicationId: null,
          identity: null,
          newField: { nested: [1, 2] },
        },
      ],
      messageCount: 1,
      pendingMessageCount: null,
    };
    const response = await fetch(channel.webhookUrl, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    const conversation = await stack.conversationSeenBy(channel, agent);
    expect(conversation.client.name).toBe('5511988880002');
    const [message] = await waitFor(
      async () => {
        const list = await stack.timeline(conversation.id, agent.token);
        return list[0]?.media?.error ? list : null;
      },
      20_000,
      'the media error',
    );
    expect(message.createdAt).toBe('2030-01-01T10:00:00.000Z');
    expect(message.media).toMatchObject({ stored: false, url: null, status: 'failed', errorCode: 'MEDIA_REFUSED' });
    expect(message.media.error).toContain('Media not found');
  });

  it('reads Viber inbound (customer in `sender`) for TEXT and FILE', async () => {
    const channel = await stack.createChannel('viber');
    const agent = await stack.createAgent([channel.id]);
    await stack.sim('POST', '/_sim/inbound', {
      webhookUrl: channel.webhookUrl,
      channel: 'viber',
      from: 'viberContract==',
      to: channel.sender,
      text: 'olá',
      contactName: 'Viber User',
      batch: [{ type: 'FILE', text: undefined, mediaSize: 700, mediaType: 'application/pdf', filename: 'pedido.pdf' }],
    });
    const conversation = await stack.conversationSeenBy(channel, agent);
    expect(conversation.client).toMatchObject({ name: 'Viber User', viberId: 'viberContract==' });
    const items = await waitFor(async () => {
      const list = await stack.timeline(conversation.id, agent.token);
      return list.length === 2 && list[1].media?.stored ? list : null;
    });
    expect(items.map((m) => m.type)).toEqual(['text', 'document']);
    expect(items[1].media).toMatchObject({ mime: 'application/pdf', size: 700 });
  });
});

describe('outbound media', () => {
  const cases = [
    {
      kind: 'image',
      name: 'produto.jpg',
      mime: 'image/jpeg',
      caption: 'Veja',
      content: (url: string) => ({ mediaUrl: url, caption: 'Veja' }),
    },
    {
      kind: 'document',
      name: 'boleto.pdf',
      mime: 'application/pdf',
      caption: 'Segue o boleto',
      content: (url: string) => ({ mediaUrl: url, caption: 'Segue o boleto', filename: 'boleto.pdf' }),
    },
    {
      kind: 'video',
      name: 'tutorial.mp4',
      mime: 'video/mp4',
      caption: undefined,
      content: (url: string) => ({ mediaUrl: url }),
    },
    {
      kind: 'audio',
      name: 'recado.ogg',
      mime: 'audio/ogg',
      caption: undefined,
      content: (url: string) => ({ mediaUrl: url }),
    },
    {
      kind: 'sticker',
      name: 'oi.webp',
      mime: 'image/webp',
      caption: undefined,
      content: (url: string) => ({ mediaUrl: url }),
    },
  ];

  it("sends each attachment type to its WhatsApp endpoint with Infobip's body; Infobip can fetch the public link", async () => {
    const { channel, agent, conversation } = await openChat('whatsapp', '5511988880010');
    for (const item of cases) {
      const uploaded = await upload(agent.token, item.name, item.mime, 10_000);
      expect(uploaded.status).toBe(201);
      expect(uploaded.body).toMatchObject({ kind: item.kind, mime: item.mime, size: 10_000, name: item.name });
      expect(uploaded.body.url).toMatch(new RegExp(`^${stack.api.url}/media/[A-Za-z0-9_-]{32}$`));
      const sent = await stack.call(
        'POST',
        `/api/conversations/${conversation.id}/messages`,
        { attachmentId: uploaded.body.id, ...(item.caption ? { caption: item.caption } : {}) },
        agent.token,
      );
      expect(sent.status).toBe(202);
      expect(sent.body.type).toBe(item.kind);
      const [request] = await waitFor(async () => {
        const r = (await stack.infobipRequests(`/whatsapp/1/message/${item.kind}`)).filter(
          (x) => x.body.messageId === sent.body.id,
        );
        return r.length ? r : null;
      });
      expect(request!.body).toEqual({
        from: channel.sender,
        to: '5511988880010',
        messageId: sent.body.id,
        content: item.content(uploaded.body.url),
        notifyUrl: channel.webhookUrl,
      });
      const delivered = await waitFor(
        async () =>
          (await stack.timeline(conversation.id, agent.token)).find(
            (m) => m.id === sent.body.id && m.status === 'delivered',
          ),
        20_000,
        `${item.kind} delivered`,
      );
      expect(delivered.media).toMatchObject({ name: item.name, stored: true });
    }
    const fetches = (await stack.sim('GET', '/_sim/media-fetches')).body as any[];
    expect(fetches.filter((f) => f.status === 200 && f.size === 10_000)).toHaveLength(cases.length);
    const caption = await upload(agent.token, 'voz.ogg', 'audio/ogg', 100);
    expect(
      (
        await stack.call(
          'POST',
          `/api/conversations/${conversation.id}/messages`,
          { attachmentId: caption.body.id, caption: 'x' },
          agent.token,
        )
      ).body.error.code,
    ).toBe('CAPTION_NOT_SUPPORTED');
  });

  it('on Viber an attachment goes out as a link in a text, natively only when the channel allows it', async () => {
    const { channel, agent, conversation } = await openChat('viber', 'viberMedia==');
    const uploaded = await upload(agent.token, 'catalogo.pdf', 'application/pdf', 2000);
    const sent = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { attachmentId: uploaded.body.id, caption: 'Nosso catálogo' },
      agent.token,
    );
    expect(sent.status).toBe(202);
    const [request] = await waitFor(async () => {
      const r = (await stack.infobipRequests('/viber/2/messages')).filter(
        (x) => x.body.messages[0].destinations[0].messageId === sent.body.id,
      );
      return r.length ? r : null;
    });
    expect(request!.body.messages[0].content).toEqual({
      type: 'TEXT',
      text: `Nosso catálogo\ncatalogo.pdf: ${uploaded.body.url}`,
    });

    const native = await openChat('viber', 'viberNative==', { viberMediaMode: 'native' });
    expect(native.channel).toMatchObject({ viberMediaMode: 'native' });
    const image = await upload(native.agent.token, 'foto.png', 'image/png', 3000);
    const sentImage = await stack.call(
      'POST',
      `/api/conversations/${native.conversation.id}/messages`,
      { attachmentId: image.body.id },
      native.agent.token,
    );
    const [imageRequest] = await waitFor(async () => {
      const r = (await stack.infobipRequests('/viber/2/messages')).filter(
        (x) => x.body.messages[0].destinations[0].messageId === sentImage.body.id,
      );
      return r.length ? r : null;
    });
    expect(imageRequest!.body.messages[0].content).toEqual({ type: 'IMAGE', mediaUrl: image.body.url });
    // Infobip's Viber rules: transactional traffic is text only, so native media goes out as promotional.
    expect(imageRequest!.body.messages[0].options).toEqual({ label: 'PROMOTIONAL' });
    expect(request!.body.messages[0].options).toEqual({ label: 'TRANSACTIONAL' });
    const pdf = await upload(native.agent.token, 'contrato.pdf', 'application/pdf', 2500);
    const sentFile = await stack.call(
      'POST',
      `/api/conversations/${native.conversation.id}/messages`,
      { attachmentId: pdf.body.id },
      native.agent.token,
    );
    const [fileRequest] = await waitFor(async () => {
      const r = (await stack.infobipRequests('/viber/2/messages')).filter(
        (x) => x.body.messages[0].destinations[0].messageId === sentFile.body.id,
      );
      return r.length ? r : null;
    });
    expect(fileRequest!.body.messages[0].content).toEqual({
      type: 'FILE',
      mediaUrl: pdf.body.url,
      fileName: 'contrato.pdf',
    });
    expect(channel.id).not.toBe(native.channel.id);

    // Viber texts take at most 1000 characters: a longer reply is refused up front, nothing sent.
    const before = (await stack.infobipRequests('/viber/2/messages')).length;
    const long = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'a'.repeat(1001) },
      agent.token,
    );
    expect(long.status).toBe(400);
    expect(long.body.error).toMatchObject({ code: 'TEXT_TOO_LONG', max: 1000 });
    expect((await stack.infobipRequests('/viber/2/messages')).length).toBe(before);
  });

  it('stickers: 100 KB when static, 500 KB when animated (read from the WebP header)', async () => {
    const { agent } = await openChat('whatsapp', '5511988880012');
    const KB = 1024;
    // RIFF <size> WEBP VP8X <chunk size> <flags: 0x02 = animation>
    const webp = (animated: boolean) =>
      new Uint8Array([
        ...new TextEncoder().encode('RIFF'),
        0,
        0,
        0,
        0,
        ...new TextEncoder().encode('WEBPVP8X'),
        10,
        0,
        0,
        0,
        animated ? 0x02 : 0,
      ]);
    const staticBig = await upload(agent.token, 'parado.webp', 'image/webp', 100 * KB + 1, webp(false));
    expect(staticBig.status).toBe(413);
    expect(staticBig.body.error).toMatchObject({ code: 'ATTACHMENT_TOO_LARGE', kind: 'sticker', limitBytes: 100 * KB });
    expect((await upload(agent.token, 'parado.webp', 'image/webp', 100 * KB, webp(false))).status).toBe(201);
    const animated = await upload(agent.token, 'anima.webp', 'image/webp', 300 * KB, webp(true));
    expect(animated.status).toBe(201);
    expect(animated.body.kind).toBe('sticker');
    const animatedBig = await upload(agent.token, 'anima.webp', 'image/webp', 500 * KB + 1, webp(true));
    expect(animatedBig.status).toBe(413);
    expect(animatedBig.body.error.limitBytes).toBe(500 * KB);
  });

  it("refuses attachments over the limits with the seed's message — 5 MB images, 100 MB files — streaming, not buffering", async () => {
    const { agent } = await openChat('whatsapp', '5511988880011');
    const bigImage = await upload(agent.token, 'grande.jpg', 'image/jpeg', 5 * MB + 1);
    expect(bigImage.status).toBe(413);
    expect(bigImage.body.error).toMatchObject({
      code: 'ATTACHMENT_TOO_LARGE',
      message: ATTACHMENT_TOO_LARGE_MESSAGE,
      kind: 'image',
      limitBytes: 5 * MB,
    });
    expect((await upload(agent.token, 'limite.jpg', 'image/jpeg', 5 * MB)).status).toBe(201);

    // The 100 MB boundary. curl (another process) sends the files, so this process — where the API runs — holds
    // only what the server itself holds; its memory is watched while the files stream through.
    const dir = mkdtempSync(join(tmpdir(), 'janela-upload-'));
    const exactFile = join(dir, 'arquivo.bin');
    const overFile = join(dir, 'arquivo2.zip');
    truncateSync(writeAndClose(exactFile), 100 * MB);
    truncateSync(writeAndClose(overFile), 100 * MB + 1);
    let peak = 0;
    const baseline = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss - baseline);
    }, 25);
    try {
      const exact = await curlUpload(agent.token, exactFile, 'application/octet-stream');
      expect(exact.status).toBe(201);
      expect(exact.body).toMatchObject({ kind: 'document', size: 100 * MB, name: 'arquivo.bin' });
      const over = await curlUpload(agent.token, overFile, 'application/zip');
      expect(over.status).toBe(413);
      expect(over.body.error.message).toBe(ATTACHMENT_TOO_LARGE_MESSAGE);
    } finally {
      clearInterval(sampler);
      rmSync(dir, { recursive: true, force: true });
    }
    // Buffering a file whole would add at least its 100 MB.
    expect(peak).toBeLessThan(90 * MB);
  }, 180_000);

  it('an attachment of another agent, or unknown, cannot be sent', async () => {
    const { agent, conversation } = await openChat('whatsapp', '5511988880012');
    const other = await stack.createAgent([]);
    const theirs = await upload(other.token, 'deles.pdf', 'application/pdf', 100);
    expect(
      (
        await stack.call(
          'POST',
          `/api/conversations/${conversation.id}/messages`,
          { attachmentId: theirs.body.id },
          agent.token,
        )
      ).body.error.code,
    ).toBe('ATTACHMENT_NOT_FOUND');
    expect(
      (
        await stack.call(
          'POST',
          `/api/conversations/${conversation.id}/messages`,
          { attachmentId: 'nope' },
          agent.token,
        )
      ).status,
    ).toBe(404);
    const noFile = await fetch(`${stack.api.url}/api/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}` },
    });
    expect(noFile.status).toBe(400);
  });
});

describe('errors, retries and reports', () => {
  it('a timed-out call is not made again (Infobip may have taken it): the reply ends unknown, and its resend is delivered', async () => {
    const { agent, conversation } = await openChat('whatsapp', '5511988880020');
    // Infobip answers after 6 s, past the 4 s timeout, and sends no report: whether it took the message is unknown.
    await stack.sim('POST', '/_sim/faults', { path: '/whatsapp/1/message/text', status: 200, count: 1, delayMs: 6000 });
    const sent = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'com timeout' },
      agent.token,
    );
    const statusOf = async (id: string) =>
      (await stack.timeline(conversation.id, agent.token)).find((m) => m.id === id)?.status;
    await waitFor(
      async () => (await statusOf(sent.body.id)) === 'unknown',
      60_000,
      'the timed-out reply to end unknown',
    );
    const attemptsOf = async (id: string) =>
      (await stack.infobipRequests('/whatsapp/1/message/text')).filter((r) => r.body.messageId === id);
    expect(await attemptsOf(sent.body.id)).toHaveLength(1);
    const resent = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages/${sent.body.id}/resend`,
      undefined,
      agent.token,
    );
    expect(resent.status).toBe(202);
    await waitFor(
      async () => ['delivered', 'seen'].includes(await statusOf(resent.body.id)),
      30_000,
      'delivery of the resend',
    );
    expect(await attemptsOf(resent.body.id)).toHaveLength(1);
    expect(await attemptsOf(sent.body.id)).toHaveLength(1);
  });

  it('401 from Infobip is permanent and shown; the newer error body (Viber) is read too', async () => {
    const { agent, conversation } = await openChat('viber', 'viberErrors==');
    await stack.sim('POST', '/_sim/faults', {
      path: '/viber/2/messages',
      status: 400,
      count: 1,
      body: {
        errorCode: 'E400',
        description: 'Request cannot be processed.',
        action: 'Check the syntax',
        violations: [{ property: 'messages[0].content.text', violation: 'size must be between 1 and 1000' }],
        resources: [],
      },
    });
    const sent = await stack.call('POST', `/api/conversations/${conversation.id}/messages`, { text: 'x' }, agent.token);
    const failed = await waitFor(async () =>
      (await stack.timeline(conversation.id, agent.token)).find((m) => m.id === sent.body.id && m.status === 'failed'),
    );
    expect(failed.error).toMatchObject({ code: 'E400', httpStatus: 400 });
    expect(failed.error.message).toBe(
      'Request cannot be processed. — messages[0].content.text: size must be between 1 and 1000',
    );
  });

  it('reports move status only forward, whatever their order; unknown messages are ignored quietly', async () => {
    const { channel, agent, conversation } = await openChat('whatsapp', '5511988880021');
    await stack.sim('POST', '/_sim/faults', {
      path: '/whatsapp/1/message/text',
      status: 200,
      count: 1,
      suppressReports: true,
    });
    const sent = await stack.call(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'relatórios fora de ordem' },
      agent.token,
    );
    await waitFor(async () =>
      (await stack.timeline(conversation.id, agent.token)).find((m) => m.id === sent.body.id && m.status === 'sent'),
    );
    const post = (body: unknown) =>
      fetch(channel.webhookUrl, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    const now = infobipTime();
    const seen = {
      results: [{ messageId: sent.body.id, from: channel.sender, to: '5511988880021', sentAt: now, seenAt: now }],
    };
    const delivered = {
      results: [
        {
          messageId: sent.body.id,
          to: '5511988880021',
          sentAt: now,
          doneAt: now,
          status: { groupId: 3, groupName: 'DELIVERED', id: 5, name: 'DELIVERED_TO_HANDSET' },
          error: null,
        },
      ],
    };
    const failedLate = {
      results: [
        {
          messageId: sent.body.id,
          to: '5511988880021',
          sentAt: now,
          doneAt: now,
          status: { groupName: 'UNDELIVERABLE', name: 'UNDELIVERABLE_NOT_DELIVERED' },
          error: { id: 7002, name: 'EC_UNKNOWN_USER', permanent: true },
        },
      ],
    };
    const unknown = { results: [{ messageId: 'not-ours', to: '1', doneAt: now, status: { groupName: 'DELIVERED' } }] };
    for (const body of [seen, delivered, failedLate, unknown]) expect((await post(body)).status).toBe(200);
    const message = (await stack.timeline(conversation.id, agent.token)).find((m) => m.id === sent.body.id);
    expect(message.status).toBe('seen');
    expect(message.error).toBeNull();
  });

  it('a template status event updates the stored template', async () => {
    const channel = await stack.createChannel('whatsapp', { sender: '447000000555' });
    await stack.sim('PUT', '/_sim/templates/447000000555', [
      {
        id: '9001',
        name: 'promo',
        language: 'pt_BR',
        status: 'PENDING',
        category: 'MARKETING',
        structure: { body: { text: 'Promo {{1}}' } },
      },
    ]);
    await stack.call('POST', `/api/channels/${channel.id}/templates/sync`);
    const response = await fetch(channel.webhookUrl, {
      method: 'POST',
      body: JSON.stringify({ messageTemplateId: 9001, status: 'APPROVED', event: 'TEMPLATE_STATUS_UPDATE' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).accepted.templates).toBe(1);
    expect((await Template.findOne({ channelId: channel.id, name: 'promo' }).lean())!.status).toBe('APPROVED');
    const identity = await fetch(channel.webhookUrl, {
      method: 'POST',
      body: JSON.stringify({ event: 'IDENTITY_CHANGE', from: '5511' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(identity.status).toBe(200);
    expect(await Message.countDocuments({ channelId: channel.id })).toBe(0);
  });
});
