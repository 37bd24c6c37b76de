/** The help article linked from WINDOW_CLOSED errors (JANELA_WINDOW_HELP_URL points elsewhere when set). */
export function windowHelpPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>WhatsApp's 24-hour window — Janela</title>
<style>body{font:16px/1.55 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1f2933}h1{font-size:1.6rem}code{background:#eef2f6;padding:0 .25rem;border-radius:3px}</style>
</head><body>
<h1>WhatsApp's 24-hour customer-service window</h1>
<p>WhatsApp lets a business send <strong>free-form messages</strong> only within <strong>24 hours</strong> of the
customer's <strong>last</strong> message. Every new message from the customer restarts the 24 hours.</p>
<p>When the window is closed, Janela disables the message field and refuses free-form replies (API error
<code>WINDOW_CLOSED</code>); nothing is sent to Infobip. To reach the customer again, send an <strong>approved
template</strong> (a message agreed with Meta beforehand): use <em>Send template</em> in the console, or
<code>POST /api/conversations/:id/templates</code>. Templates can be sent at any time. When the customer answers, the
window opens again for 24 hours.</p>
<p>Internal notes always work: they are never sent to the customer.</p>
<p>Viber has no such window: replies are always allowed.</p>
<hr><h2 lang="pt-BR">Janela de 24 horas do WhatsApp</h2>
<p lang="pt-BR">Mensagens livres só podem ser enviadas até 24 horas após a última mensagem do cliente. Fora dessa
janela, envie um modelo (template) aprovado; quando o cliente responder, a janela abre novamente.</p>
</body></html>`;
}
