import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentFilenameFromUrl, documentHeaderFilename } from '../common/document-filename';
import { whatsappProvider } from '../providers/whatsapp';
import { type Stack, startStack, waitFor } from './helpers/stack';

/**
 * Issue 25: Infobip's published API refused two bodies the simulator took. The simulator now holds every send to
 * the published schemas (simulator/infobip-schemas); Janela sends a DOCUMENT header's filename and sends Viber
 * files of types the schema does not list as a link.
 */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

/** Posts straight to the simulator, as any Infobip client would. */
async function postToInfobip(path: string, body: unknown) {
  const response = await fetch(`${stack.simulatorUrl}${path}`, {
    method: 'POST',
    headers: { authorization: 'App any-key', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const templateBody = (header: Record<string, unknown>) => ({
  messages: [
    {
      from: '447860099299',
      to: '5511977770001',
      messageId: 'schema-check-1',
      content: {
        templateName: 'invoice_pdf',
        language: 'pt_BR',
        templateData: { body: { placeholders: ['Ivan'] }, header },
      },
      notifyUrl: 'http://127.0.0.1:9/nowhere',
    },
  ],
});

const viberFile = (fileName: string) => ({
  messages: [
    {
      sender: 'Janela Test',
      destinations: [{ to: 'viberUser==', messageId: 'schema-check-2' }],
      content: { type: 'FILE', mediaUrl: 'https://cdn.example.com/f', fileName },
      options: { label: 'PROMOTIONAL' },
      webhooks: { delivery: { url: 'http://127.0.0.1:9/nowhere' }, seen: { url: 'http://127.0.0.1:9/nowhere' } },
    },
  ],
});

const VIBER_FILE_PATTERN = '^.*\\.(docx?|dotx?|xlsx?|f?ods|f?odt|rtf|odf|txt|info|pdf|xps|pdax|eps|csv|xlsm|xltx)$';

describe("the simulator refuses what Infobip's published schemas refuse, with Infobip's 400 bodies", () => {
  it('a template DOCUMENT header without a filename (or with one over 240 characters)', async () => {
    const mediaUrl = 'https://cdn.example.com/fatura.pdf';
    const missing = await postToInfobip('/whatsapp/1/message/template', templateBody({ type: 'DOCUMENT', mediaUrl }));
    expect(missing).toEqual({
      status: 400,
      body: {
        requestError: {
          serviceException: {
            messageId: 'BAD_REQUEST',
            text: 'Bad request',
            validationErrors: { 'messages[0].content.templateData.header.filename': ['must not be null'] },
          },
        },
      },
    });
    const tooLong = await postToInfobip(
      '/whatsapp/1/message/template',
      templateBody({ type: 'DOCUMENT', mediaUrl, filename: `${'a'.repeat(237)}.pdf` }),
    );
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.requestError.serviceException.validationErrors).toEqual({
      'messages[0].content.templateData.header.filename': ['size must be between 1 and 240'],
    });
    const named = await postToInfobip(
      '/whatsapp/1/message/template',
      templateBody({ type: 'DOCUMENT', mediaUrl, filename: 'fatura.pdf' }),
    );
    expect(named.status).toBe(200);
    expect(named.body.messages[0]).toMatchObject({ messageId: 'schema-check-1', status: { name: 'PENDING_ENROUTE' } });
  });

  it('a Viber FILE whose fileName the published pattern does not list: .pptx, .ppt, an upper-case .PDF', async () => {
    for (const fileName of ['apresentacao.pptx', 'apresentacao.ppt', 'Contrato.PDF']) {
      const refused = await postToInfobip('/viber/2/messages', viberFile(fileName));
      expect(refused).toEqual({
        status: 400,
        body: {
          errorCode: 'E400',
          description: 'Request cannot be processed.',
          action: 'Check the syntax, violations and adjust the request.',
          violations: [{ property: 'messages[0].content.fileName', violation: `must match "${VIBER_FILE_PATTERN}"` }],
          resources: [],
        },
      });
    }
    for (const fileName of ['contrato.pdf', 'planilha.xlsx', 'notas.txt']) {
      const taken = await postToInfobip('/viber/2/messages', viberFile(fileName));
      expect(taken.status, fileName).toBe(200);
    }
  });

  it('other drifts: a property the schema does not name, a count or length over the limit, a missing field', async () => {
    const document = await postToInfobip('/whatsapp/1/message/document', {
      from: '447860099299',
      to: '5511977770002',
      // `fileName` is Viber's spelling; WhatsApp's is `filename`: Infobip would drop it silently.
      content: { mediaUrl: 'https://cdn.example.com/a.pdf', fileName: 'a.pdf' },
    });
    expect(document.status).toBe(400);
    expect(document.body.requestError.serviceException.validationErrors).toEqual({
      'content.fileName': ['is not a known property'],
    });

    const buttons = await postToInfobip('/whatsapp/1/message/interactive/buttons', {
      from: '447860099299',
      to: '5511977770002',
      content: {
        body: { text: 'Nota?' },
        action: { buttons: ['1', '2', '3', '4'].map((id) => ({ type: 'REPLY', id, title: id })) },
      },
    });
    expect(buttons.status).toBe(400);
    expect(buttons.body.requestError.serviceException.validationErrors).toEqual({
      'content.action.buttons': ['size must be between 1 and 3'],
    });

    const viber = await postToInfobip('/viber/2/messages', {
      messages: [
        {
          sender: 'Janela Test',
          destinations: [{ to: 'viberUser==' }],
          content: { type: 'TEXT', text: 'Veja', button: { title: 'Abrir' } },
        },
        { sender: 'Janela Test', destinations: [], content: { type: 'AUDIO' } },
      ],
    });
    expect(viber.status).toBe(400);
    expect(viber.body.violations).toEqual([
      { property: 'messages[0].content.button.action', violation: 'must not be null' },
      { property: 'messages[1].destinations', violation: 'size must be between 1 and 2147483647' },
      { property: 'messages[1].content.type', violation: 'unknown value "AUDIO"' },
    ]);
    // Nothing refused was taken: no reports were scheduled for it.
    const recorded = await stack.infobipRequests('/viber/2/messages');
    expect(recorded.at(-1)!.status).toBe(400);
  });
});

describe('a template with a DOCUMENT header goes out with a filename', () => {
  async function documentTemplateChat(customer: string) {
    const channel = await stack.createChannel('whatsapp');
    const agent = await stack.createAgent([channel.id]);
    const registered = await stack.call('POST', `/api/channels/${channel.id}/templates`, {
      name: 'invoice_pdf',
      language: 'pt_BR',
      body: 'Olá {{1}}, segue sua fatura.',
      header: { format: 'DOCUMENT' },
    });
    expect(registered.status).toBe(201);
    await stack.customerWrites(channel, customer, 'oi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    return { channel, agent, conversation };
  }

  const sentTemplate = (messageId: string) =>
    waitFor(async () =>
      (await stack.infobipRequests('/whatsapp/1/message/template')).find(
        (r) => r.body.messages[0].messageId === messageId && r.status !== undefined,
      ),
    );

  it('read from the media URL when none is given, as given when it is; a name that is not a file name is refused', async () => {
    const { agent, conversation } = await documentTemplateChat('5511977770010');
    const path = `/api/conversations/${conversation.id}/templates`;
    const base = { templateName: 'invoice_pdf', language: 'pt_BR', variables: ['Ivan'] };

    const mediaUrl = 'https://cdn.example.com/faturas/Fatura%20Mar%C3%A7o?sig=abc';
    const derived = await stack.call('POST', path, { ...base, headerMediaUrl: mediaUrl }, agent.token);
    expect(derived.status).toBe(202);
    const derivedRequest = await sentTemplate(derived.body.id);
    expect(derivedRequest.body.messages[0].content.templateData.header).toEqual({
      type: 'DOCUMENT',
      mediaUrl,
      filename: 'Fatura Março.pdf',
    });
    expect(derivedRequest.status).toBe(200);

    const given = await stack.call(
      'POST',
      path,
      { ...base, headerMediaUrl: 'https://cdn.example.com/download?id=77', headerFilename: ' Fatura 2026-03.pdf ' },
      agent.token,
    );
    expect(given.status).toBe(202);
    const givenRequest = await sentTemplate(given.body.id);
    expect(givenRequest.body.messages[0].content.templateData.header).toEqual({
      type: 'DOCUMENT',
      mediaUrl: 'https://cdn.example.com/download?id=77',
      filename: 'Fatura 2026-03.pdf',
    });
    expect(givenRequest.status).toBe(200);

    const before = (await stack.infobipRequests('/whatsapp/1/message/template')).length;
    for (const headerFilename of ['faturas/marco.pdf', `${'a'.repeat(237)}.pdf`, '   ']) {
      const refused = await stack.call(
        'POST',
        path,
        { ...base, headerMediaUrl: mediaUrl, headerFilename },
        agent.token,
      );
      expect(refused.status, headerFilename).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await stack.infobipRequests('/whatsapp/1/message/template')).length).toBe(before);
  });

  it('through automation (the workflow checks the template itself): given and derived names alike', async () => {
    const { channel } = await documentTemplateChat('5511977770011');
    const automation = await stack.createAgent([channel.id], 'automation');
    const dialog = (phone: string, extra: Record<string, unknown>) => ({
      channelId: channel.id,
      phone,
      templateName: 'invoice_pdf',
      language: 'pt_BR',
      variables: ['Ivan'],
      idempotencyKey: `invoice-${phone}`,
      headerMediaUrl: 'https://cdn.example.com/files/',
      ...extra,
    });
    const given = await stack.call(
      'POST',
      '/api/dialogs',
      dialog('5511977770012', { headerFilename: 'Boleto.pdf' }),
      automation.token,
    );
    expect(given.status).toBe(202);
    expect((await sentTemplate(given.body.messageId)).body.messages[0].content.templateData.header.filename).toBe(
      'Boleto.pdf',
    );
    const derived = await stack.call('POST', '/api/dialogs', dialog('5511977770013', {}), automation.token);
    expect(derived.status).toBe(202);
    const request = await sentTemplate(derived.body.messageId);
    // The URL names no file: Infobip still gets a name.
    expect(request.body.messages[0].content.templateData.header.filename).toBe('document.pdf');
    expect(request.status).toBe(200);
  });

  it('a send queued before Janela named documents (its stored header has no filename) still goes with one', async () => {
    const accepted = await whatsappProvider.sendTemplate(
      { apiBaseUrl: stack.simulatorUrl, apiKey: 'any-key' },
      {
        sender: '447860099299',
        to: '5511977770014',
        messageId: 'queued-before-filenames',
        reportUrl: 'http://127.0.0.1:9/nowhere',
        name: 'invoice_pdf',
        language: 'pt_BR',
        variables: ['Ivan'],
        header: { type: 'DOCUMENT', mediaUrl: 'https://cdn.example.com/boletos/boleto-17.pdf' },
      },
    );
    expect(accepted.providerStatus).toBe('PENDING_ENROUTE');
    const request = await sentTemplate('queued-before-filenames');
    expect(request.body.messages[0].content.templateData.header.filename).toBe('boleto-17.pdf');
  });

  it('the default name: decoded, sanitised, with .pdf when it has none, at most 240 characters', () => {
    expect(documentFilenameFromUrl('https://cdn.example.com/a/b/boleto.pdf')).toBe('boleto.pdf');
    expect(documentFilenameFromUrl('https://cdn.example.com/a/Relat%C3%B3rio%20anual.PDF?x=1#p')).toBe(
      'Relatório anual.PDF',
    );
    expect(documentFilenameFromUrl('https://cdn.example.com/download/12345')).toBe('12345.pdf');
    expect(documentFilenameFromUrl('https://cdn.example.com/')).toBe('document.pdf');
    expect(documentFilenameFromUrl('https://cdn.example.com/%2e%2e%2F..%5Cetc%2Fpasswd')).toBe('_.._etc_passwd.pdf');
    expect(documentFilenameFromUrl('https://cdn.example.com/bad%E0%A4%A.pdf')).toBe('bad%E0%A4%A.pdf');
    expect(documentFilenameFromUrl('not a url')).toBe('document.pdf');
    const long = documentFilenameFromUrl(`https://cdn.example.com/${'x'.repeat(300)}.docx`);
    expect(long).toHaveLength(240);
    expect(long.endsWith('.docx')).toBe(true);
    expect(documentFilenameFromUrl(`https://cdn.example.com/${'y'.repeat(300)}`)).toBe(`${'y'.repeat(236)}.pdf`);
    expect(documentHeaderFilename('https://cdn.example.com/a.pdf', 'Nota\u0007 fiscal.pdf')).toBe('Nota_ fiscal.pdf');
    expect(documentHeaderFilename('https://cdn.example.com/a.pdf', null)).toBe('a.pdf');
  });
});

describe('Viber: a file type the published schema does not list goes as a link', () => {
  it('.pptx goes as a link in a text; a .PDF goes natively with its extension in lower case', async () => {
    const channel = await stack.createChannel('viber', { viberMediaMode: 'native' });
    const agent = await stack.createAgent([channel.id]);
    await stack.customerWrites(channel, 'viberSchemas==', 'oi');
    const conversation = await stack.conversationSeenBy(channel, agent);
    const send = async (name: string, mime: string) => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(2048).fill(80)], { type: mime }), name);
      const upload = await fetch(`${stack.api.url}/api/attachments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agent.token}` },
        body: form,
      });
      expect(upload.status).toBe(201);
      const attachment = (await upload.json()) as { id: string; url: string; kind: string };
      expect(attachment.kind).toBe('document');
      const sent = await stack.call(
        'POST',
        `/api/conversations/${conversation.id}/messages`,
        { attachmentId: attachment.id },
        agent.token,
      );
      expect(sent.status).toBe(202);
      const request = await waitFor(async () =>
        (await stack.infobipRequests('/viber/2/messages')).find(
          (r) => r.body.messages[0].destinations[0].messageId === sent.body.id && r.status !== undefined,
        ),
      );
      expect(request.status).toBe(200);
      return { content: request.body.messages[0].content, url: attachment.url };
    };

    const pptx = await send(
      'apresentacao.pptx',
      'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    );
    expect(pptx.content).toEqual({ type: 'TEXT', text: `apresentacao.pptx: ${pptx.url}` });
    const pdf = await send('Contrato.PDF', 'application/pdf');
    expect(pdf.content).toEqual({ type: 'FILE', mediaUrl: pdf.url, fileName: 'Contrato.pdf' });
  });
});
