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
