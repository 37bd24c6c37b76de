/**
 * What a stored file may be, and how it is served, so that a customer's (or an agent's) file never runs script on
 * Janela's origin: a file declared (or named) HTML, SVG, XML or script is stored under the type its bytes really
 * have (a PNG is a PNG) or as `application/octet-stream`; only raster images, audio and video that cannot run
 * script are ever served `inline`, everything else as an `application/octet-stream` attachment; and every media
 * answer carries a sandboxing Content-Security-Policy and `nosniff` (mediaResponseHeaders).
 */

/**
 * Shown in the browser as they are (a top-level image, the console's <img>/<video>/<audio>): types whose
 * decoders run no script. SVG, HTML, XML and PDF are not among them (PDF: Chromium's viewer does not run under the
 * CSP sandbox every media answer carries, so a PDF is downloaded rather than shown broken).
 */
export const INLINE_MIME_TYPES: ReadonlySet<string> = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'video/mp4',
  'video/3gpp',
  'audio/aac',
  'audio/mp4',
  'audio/mpeg',
  'audio/amr',
  'audio/ogg',
  'audio/opus',
]);

/**
 * Documents WhatsApp and Viber accept (INFOBIP.md), which the public link Infobip fetches outbound media from
 * serves under their own type: WhatsApp checks the fetched file's Content-Type against the types it supports, so
 * an `application/octet-stream` PDF would be refused. Always as an attachment, sandboxed; none of them runs script
 * in a browser under that policy.
 */
const SENDABLE_DOCUMENT_TYPES: ReadonlySet<string> = new Set([
  'application/pdf',
  'text/plain',
  'text/csv',
  'application/msword',
  'application/vnd.ms-excel',
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text',
]);

/** Types a browser renders as a document able to run script (or to load what does). */
const SCRIPT_CAPABLE_TYPES: ReadonlySet<string> = new Set([
  'text/html',
  'application/xhtml+xml',
  'image/svg+xml',
  'text/xml',
  'application/xml',
  'text/xsl',
  'application/xslt+xml',
  'text/javascript',
  'application/javascript',
  'application/x-javascript',
  'text/ecmascript',
  'application/ecmascript',
  'application/x-shockwave-flash',
  'message/rfc822',
  'multipart/related',
  'application/mathml+xml',
  'application/rdf+xml',
  'application/vnd.wap.xhtml+xml',
]);

const SCRIPT_CAPABLE_EXTENSIONS: ReadonlySet<string> = new Set([
  'html',
  'htm',
  'shtml',
  'xhtml',
  'xht',
  'svg',
  'svgz',
  'xml',
  'xsl',
  'xslt',
  'js',
  'mjs',
  'swf',
  'mht',
  'mhtml',
  'hta',
]);

export function isScriptCapableType(mime: string): boolean {
  const clean = mime.split(';')[0]!.trim().toLowerCase();
  return SCRIPT_CAPABLE_TYPES.has(clean) || clean.endsWith('+xml') || clean.startsWith('multipart/');
}

export function hasScriptCapableExtension(filename: string): boolean {
  const dot = filename.lastIndexOf('.');
  return (
    dot >= 0 &&
    SCRIPT_CAPABLE_EXTENSIONS.has(
      filename
        .slice(dot + 1)
        .trim()
        .toLowerCase(),
    )
  );
}

/** How many first bytes sniffing looks at (enough for every signature below and a BOM or some leading space). */
export const SNIFF_BYTES = 512;

const startsWith = (head: Buffer, signature: string, at = 0) =>
  head.length >= at + signature.length && head.toString('latin1', at, at + signature.length) === signature;

/**
 * The type of a file that renders without script, read from its first bytes (the signatures browsers and `file`
 * use), or null when the bytes are none of them (text, markup, anything else).
 */
export function sniffSafeType(head: Buffer): string | null {
  if (startsWith(head, '\x89PNG\r\n\x1a\n')) return 'image/png';
  if (startsWith(head, '\xff\xd8\xff')) return 'image/jpeg';
  if (startsWith(head, 'GIF87a') || startsWith(head, 'GIF89a')) return 'image/gif';
  if (startsWith(head, 'RIFF') && startsWith(head, 'WEBP', 8)) return 'image/webp';
  if (startsWith(head, '%PDF-')) return 'application/pdf';
  if (startsWith(head, 'ftyp', 4)) {
    const brand = head.toString('latin1', 8, 12);
    if (brand.startsWith('3g')) return 'video/3gpp';
    if (brand === 'M4A ' || brand === 'M4B ') return 'audio/mp4';
    return 'video/mp4';
  }
  if (startsWith(head, 'OggS')) return 'audio/ogg';
  if (startsWith(head, '#!AMR')) return 'audio/amr';
  if (startsWith(head, 'ID3') || (head.length >= 2 && head[0] === 0xff && (head[1]! & 0xe0) === 0xe0))
    return 'audio/mpeg';
  return null;
}

/**
 * The type a file is stored under: the declared one, unless it (or the file's extension) is one a browser could run
 * script in. Then the bytes decide: a safe type they really have (a PNG declared `text/html`), else
 * `application/octet-stream` — never HTML, SVG or XML, which the console would otherwise render.
 */
export function storedMimeType(resolved: string, filename: string, head: Buffer): string {
  if (!isScriptCapableType(resolved) && !hasScriptCapableExtension(filename)) return resolved;
  return sniffSafeType(head) ?? 'application/octet-stream';
}

/** How a stored file goes out: its own type and `inline` only for the allow-list, else a download. */
export function mediaPresentation(
  mime: string,
  route: 'agent' | 'public',
): { contentType: string; disposition: 'inline' | 'attachment' } {
  const clean = mime.split(';')[0]!.trim().toLowerCase();
  if (INLINE_MIME_TYPES.has(clean))
    return { contentType: clean, disposition: route === 'agent' ? 'inline' : 'attachment' };
  if (route === 'public' && SENDABLE_DOCUMENT_TYPES.has(clean))
    return { contentType: clean, disposition: 'attachment' };
  return { contentType: 'application/octet-stream', disposition: 'attachment' };
}

/**
 * Headers of every media answer: nothing may load or run in it (`default-src 'none'`), it is a sandboxed, opaque
 * origin even when opened as a page (`sandbox`: no script, no forms, no access to the console's cookies or
 * storage), and browsers must not guess another type than the one sent (`nosniff`).
 */
export const MEDIA_SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; sandbox",
  'x-content-type-options': 'nosniff',
  // The file's address (with its public token) is never sent on to a page it links to.
  'referrer-policy': 'no-referrer',
} as const;
