/**
 * The file name a template's DOCUMENT header goes out with. Infobip requires one (1–240 characters, its published
 * WhatsAppTemplateDocumentHeaderContent.filename) and the customer sees it on the document; when the sender gives
 * none, it is read from the media URL. Pure.
 */

/** Infobip's limit for `header.filename`. */
export const DOCUMENT_FILENAME_MAX = 240;
export const FALLBACK_DOCUMENT_FILENAME = 'document.pdf';

/** Characters no file name should carry: control characters, path separators and those Windows refuses. */
const UNSAFE = /[\p{Cc}<>:"/\\|?*]+/gu;
/** An extension: a dot and 1–10 letters or digits at the end (`.pdf`, `.docx`, `.7z`). */
const EXTENSION = /\.[A-Za-z0-9]{1,10}$/;

/** A name made safe to show: unsafe characters become `_`, spaces collapse, no leading dots, at most 240 characters. */
export function sanitizeFilename(name: string): string {
  const clean = name.replace(UNSAFE, '_').replace(/\s+/g, ' ').trim().replace(/^\.+/, '');
  return boundFilename(clean);
}

/** Cuts a name to Infobip's 240 characters, keeping its extension. */
function boundFilename(name: string): string {
  if (name.length <= DOCUMENT_FILENAME_MAX) return name;
  const extension = EXTENSION.exec(name)?.[0] ?? '';
  return `${name.slice(0, DOCUMENT_FILENAME_MAX - extension.length).trimEnd()}${extension}`;
}

/**
 * The default name for a document at `mediaUrl`: the URL's last path segment, decoded and sanitised, with `.pdf`
 * when it has no extension (WhatsApp's document headers are PDF); `document.pdf` when the URL names no file.
 */
export function documentFilenameFromUrl(mediaUrl: string): string {
  let segment = '';
  try {
    segment = new URL(mediaUrl).pathname.split('/').pop() ?? '';
  } catch {
    return FALLBACK_DOCUMENT_FILENAME;
  }
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    // A malformed escape: the segment as it is.
  }
  const name = sanitizeFilename(decoded);
  if (!name || /^[_ .]*$/.test(name)) return FALLBACK_DOCUMENT_FILENAME;
  return EXTENSION.test(name) ? name : boundFilename(`${name.slice(0, DOCUMENT_FILENAME_MAX - 4)}.pdf`);
}

/** The name a DOCUMENT header goes out with: the one given (sanitised), else one read from the URL. */
export function documentHeaderFilename(mediaUrl: string, given?: string | null): string {
  const name = given ? sanitizeFilename(given) : '';
  return name || documentFilenameFromUrl(mediaUrl);
}
