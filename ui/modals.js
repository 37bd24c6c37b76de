// Modals: the template picker and create chat.
import {
  $,
  $$,
  api,
  errorText,
  esc,
  formatTime,
  freeUntil,
  guardFields,
  newRequestId,
  noteConversationChanged,
  renderTemplate,
  requestIdFor,
  state,
  t,
  templateChannels,
} from './core.js';

// ---------- modals ----------
function openModal(html, bind) {
  const root = document.getElementById('modal-root');
  root.innerHTML = `<div class="modal-backdrop"><div class="modal" role="dialog" aria-modal="true">${html}</div></div>`;
  const close = () => {
    root.innerHTML = '';
  };
  $('.modal-backdrop', root).addEventListener(
    'click',
    (event) => event.target.classList.contains('modal-backdrop') && close(),
  );
  $$('[data-close]', root).forEach((button) => void button.addEventListener('click', close));
  bind($('.modal', root), close);
}

async function approvedTemplates(channelId) {
  return (await api('GET', `/api/channels/${channelId}/templates`)).items.filter((tpl) => tpl.status === 'APPROVED');
}

/** Template choice + variables + live preview: shared by "Send template" and "Create chat". */
function templatePicker(templates) {
  if (!templates.length) return `<div class="hint">${esc(t('noTemplates'))}</div>`;
  return `<label>${esc(t('template'))}
      <select id="tpl-select"><option value="">${esc(t('chooseTemplate'))}</option>${templates.map((tpl, i) => `<option value="${i}">${esc(tpl.name)} (${esc(tpl.language)})</option>`).join('')}</select>
    </label>
    <div id="tpl-vars"></div>
    <div><div class="label">${esc(t('preview'))}</div><div class="preview-box" id="tpl-preview"></div></div>`;
}

const HAS_VARIABLE = /\{\{\s*1\s*\}\}/;

/** What a template needs besides its body variables: header media, a text header's variable, URL button values. */
function templateExtras(tpl) {
  const format = tpl.header?.format?.toUpperCase();
  return {
    headerMedia: ['IMAGE', 'DOCUMENT', 'VIDEO'].includes(format) ? format : null,
    headerText: format === 'TEXT' ? (tpl.header.text ?? '') : null,
    headerVariable: format === 'TEXT' && HAS_VARIABLE.test(tpl.header.text ?? ''),
    urlButtons: (tpl.buttons ?? []).filter((b) => b?.type?.toUpperCase() === 'URL' && HAS_VARIABLE.test(b.url ?? '')),
  };
}

function bindTemplatePicker(modal, templates) {
  const current = () => templates[Number($('#tpl-select', modal)?.value)] ?? null;
  const values = () => $$('[data-var]', modal).map((input) => input.value);
  const headerText = () => $('[data-header-text]', modal)?.value ?? '';
  const preview = () => {
    const tpl = current();
    const box = $('#tpl-preview', modal);
    if (!box) return;
    if (!tpl) {
      box.textContent = '';
      return;
    }
    const extras = templateExtras(tpl);
    const header = extras.headerText === null ? '' : renderTemplate(extras.headerText, [headerText()]);
    box.textContent = [header, renderTemplate(tpl.body, values())].filter(Boolean).join('\n');
  };
  $('#tpl-select', modal)?.addEventListener('change', () => {
    const tpl = current();
    const extras = tpl ? templateExtras(tpl) : null;
    $('#tpl-vars', modal).innerHTML = tpl
      ? [
          ...(extras.headerMedia
            ? [
                `<label>${esc(t('headerMedia', { kind: extras.headerMedia }))}<input data-header-media type="url" required placeholder="https://" /></label>`,
              ]
            : []),
          // Infobip sends a document with a file name; empty, Janela reads it from the link.
          ...(extras.headerMedia === 'DOCUMENT'
            ? [
                `<label>${esc(t('headerFilename'))}<input data-header-filename maxlength="240" placeholder="${esc(t('headerFilenameHint'))}" /></label>`,
              ]
            : []),
          ...(extras.headerVariable
            ? [`<label>${esc(t('headerVariable'))}<input data-header-text maxlength="60" required /></label>`]
            : []),
          ...Array.from(
            { length: tpl.placeholders },
            (_, i) => `<label>${esc(t('variable', { n: i + 1 }))}<input data-var="${i + 1}" required /></label>`,
          ),
          ...extras.urlButtons.map(
            (b) =>
              `<label>${esc(t('buttonVariable', { name: b.text ?? 'URL' }))}<input data-button-param required /></label>`,
          ),
        ].join('')
      : '';
    $$('[data-var], [data-header-text]', modal).forEach((input) => void input.addEventListener('input', preview));
    preview();
  });
  return () => {
    const tpl = current();
    if (!tpl) return null;
    const media = $('[data-header-media]', modal)?.value.trim();
    const filename = $('[data-header-filename]', modal)?.value.trim();
    const buttons = $$('[data-button-param]', modal).map((input) => input.value.trim());
    return {
      templateName: tpl.name,
      language: tpl.language,
      variables: values(),
      ...(media ? { headerMediaUrl: media } : {}),
      ...(filename ? { headerFilename: filename } : {}),
      ...(headerText() ? { headerText: headerText().trim() } : {}),
      ...(buttons.length ? { buttonParameters: buttons } : {}),
    };
  };
}

/** The template modal for conversation `c`; `onSent(message)` when one went. */
export async function openTemplateModal(c, onSent) {
  const templates = await approvedTemplates(c.channelId).catch(() => []);
  openModal(
    `<h3>${esc(t('sendTemplate'))}</h3>${freeUntil(c) ? `<div class="hint free-until" id="free-until">${esc(t('templatesFreeUntil', { time: formatTime(new Date(freeUntil(c)).toISOString()) }))}</div>` : ''}${templatePicker(templates)}
     <div id="modal-alert"></div>
     <div class="bar" style="display:flex;gap:.5rem;justify-content:flex-end"><button data-close>${esc(t('cancel'))}</button><button class="primary" id="tpl-send">${esc(t('send'))}</button></div>`,
    (modal, close) => {
      const read = bindTemplatePicker(modal, templates);
      $('#tpl-send', modal).addEventListener('click', async () => {
        const choice = read();
        if (!choice) return;
        try {
          const requestId = requestIdFor({ conversation: c.id, template: choice });
          const fingerprint = JSON.stringify({ template: choice });
          let message;
          try {
            message = await api('POST', `/api/conversations/${c.id}/templates`, {
              ...choice,
              requestId,
              ...guardFields(c.id, fingerprint),
            });
          } catch (err) {
            noteConversationChanged(err, c.id, fingerprint);
            throw err;
          }
          state.forceNext = null;
          state.pendingAction = null;
          close();
          state.composerError = null;
          state.composerInfo = t('templateSent');
          onSent(message);
        } catch (err) {
          $('#modal-alert', modal).innerHTML = `<div class="alert error" role="alert">${esc(errorText(err))}</div>`;
        }
      });
    },
  );
}

/** The create chat modal; `onCreated(conversationId)` once the conversation exists. */
export async function openCreateChat(onCreated) {
  const channels = templateChannels();
  const pick = { clientId: null, clientName: '' };
  // One id per form: a double click on Start sends the template once.
  const requestId = newRequestId();
  openModal(
    `<h3>${esc(t('createChat'))}</h3>
     ${channels.length > 1 ? `<label>${esc(t('channel'))}<select id="cc-channel">${channels.map((c) => `<option value="${esc(c.id)}">${esc(c.name)}</option>`).join('')}</select></label>` : `<input type="hidden" id="cc-channel" value="${esc(channels[0].id)}" />`}
     <label>${esc(t('searchClient'))}<input id="cc-client" autocomplete="off" /></label>
     <div class="client-results" id="cc-results" hidden></div>
     <div id="cc-picked"></div>
     <label>${esc(t('phone'))}<input id="cc-phone" inputmode="numeric" placeholder="79254321098" /></label>
     <div id="cc-templates"></div>
     <div id="modal-alert"></div>
     <div style="display:flex;gap:.5rem;justify-content:flex-end"><button data-close>${esc(t('cancel'))}</button><button class="primary" id="cc-start">${esc(t('start'))}</button></div>`,
    async (modal, close) => {
      let readTemplate = () => null;
      const loadTemplates = async () => {
        const templates = await approvedTemplates($('#cc-channel', modal).value).catch(() => []);
        $('#cc-templates', modal).innerHTML = templatePicker(templates);
        readTemplate = bindTemplatePicker(modal, templates);
      };
      $('#cc-channel', modal).addEventListener('change', loadTemplates);
      const templatesLoaded = loadTemplates(); // the client search works while templates load
      const results = $('#cc-results', modal);
      const showPicked = () => {
        $('#cc-picked', modal).textContent =
          pick.clientId || pick.clientName ? t('clientPicked', { name: pick.clientName }) : '';
      };
      $('#cc-client', modal).addEventListener('input', async (event) => {
        const search = event.target.value.trim();
        pick.clientId = null;
        pick.clientName = '';
        showPicked();
        if (!search) {
          results.hidden = true;
          return;
        }
        const found = (await api('GET', `/api/clients?search=${encodeURIComponent(search)}`)).items.filter(
          (c) => c.phone,
        );
        results.hidden = false;
        results.innerHTML = [
          ...found.map(
            (c) =>
              `<button type="button" data-client="${esc(c.id)}" data-name="${esc(c.name)}" data-phone="${esc(c.phone)}">${esc(c.name)} · ${esc(c.phone)}</button>`,
          ),
          `<button type="button" data-new="1">${esc(t('newClient', { name: search }))}</button>`,
        ].join('');
        $$('button', results).forEach(
          (button) =>
            void button.addEventListener('click', () => {
              if (button.dataset.new) {
                pick.clientId = null;
                pick.clientName = search;
              } else {
                pick.clientId = button.dataset.client;
                pick.clientName = button.dataset.name;
                $('#cc-phone', modal).value = button.dataset.phone;
              }
              results.hidden = true;
              showPicked();
            }),
        );
      });
      await templatesLoaded;
      $('#cc-start', modal).addEventListener('click', async () => {
        const template = readTemplate();
        const alertBox = $('#modal-alert', modal);
        if (!template) {
          alertBox.innerHTML = `<div class="alert error" role="alert">${esc(t('chooseTemplate'))}</div>`;
          return;
        }
        const phone = $('#cc-phone', modal).value.trim();
        const typedName = $('#cc-client', modal).value.trim();
        try {
          const created = await api('POST', '/api/chats', {
            requestId,
            channelId: $('#cc-channel', modal).value,
            ...(phone ? { phone } : {}),
            ...(pick.clientId
              ? { clientId: pick.clientId }
              : { clientName: pick.clientName || typedName || undefined }),
            ...template,
          });
          close();
          await onCreated(created.conversationId);
        } catch (err) {
          alertBox.innerHTML = `<div class="alert error" role="alert" data-code="${esc(err.code)}">${esc(errorText(err))}</div>`;
        }
      });
    },
  );
}
