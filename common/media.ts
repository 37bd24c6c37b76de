/** Attachment kinds' WhatsApp limits (INFOBIP.md): what decides the send endpoint and the size check. */
import type { MediaKind } from './domain';
import { storedMimeType } from './media-safety';

const MB = 1024 * 1024;

export const MEDIA_LIMITS: Record<MediaKind, number> = {
  image: 5 * MB,
  video: 16 * MB,
  audio: 16 * MB,
  // Animated stickers; a static one may have 100 KB (stickerLimit reads which it is from the file's header).
  sticker: 500 * 1024,
  document: 100 * MB,
};

export const STATIC_STICKER_LIMIT = 100 * 1024;

/**
 * WhatsApp's sticker limit for this WebP: 500 KB when animated, 100 KB when static. An animated WebP is a RIFF
 * `WEBP` file whose first chunk is `VP8X` with the animation flag (0x02) set.
 */
export function stickerLimit(head: Buffer): number {
  const animated =
    head.length >= 21 &&
    head.toString('latin1', 0, 4) === 'RIFF' &&
    head.toString('latin1', 8, 12) === 'WEBP' &&
    head.toString('latin1', 12, 16) === 'VP8X' &&
    (head[20]! & 0x02) !== 0;
  return animated ? MEDIA_LIMITS.sticker : STATIC_STICKER_LIMIT;
}

/** The seed's sentence, shown to agents when an attachment is over its limit. */
export const ATTACHMENT_TOO_LARGE_MESSAGE =
  'Failed to send attachment, size exceeded (images up to 5 MB, files up to 100 MB)';

const imageTypes = new Set(['image/jpeg', 'image/jpg', 'image/png']);
const videoTypes = new Set(['video/mp4', 'video/3gpp']);
const audioTypes = new Set(['audio/aac', 'audio/mp4', 'audio/mpeg', 'audio/amr', 'audio/ogg', 'audio/opus']);

const byExtension: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  mp4: 'video/mp4',
  '3gp': 'video/3gpp',
  aac: 'audio/aac',
  m4a: 'audio/mp4',
  mp3: 'audio/mpeg',
  amr: 'audio/amr',
  ogg: 'audio/ogg',
  opus: 'audio/opus',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
};

/** The file's MIME type: the declared one unless it is generic, else guessed from the extension. */
export function resolveMime(declared: string | null | undefined, filename: string): string {
  const clean = (declared ?? '').split(';')[0]!.trim().toLowerCase();
  if (clean && clean !== 'application/octet-stream') return clean;
  const ext = filename.split('.').pop()?.toLowerCase() ?? '';
  return byExtension[ext] ?? 'application/octet-stream';
}

export function classifyMedia(mime: string): MediaKind {
  if (imageTypes.has(mime)) return 'image';
  if (mime === 'image/webp') return 'sticker';
  if (videoTypes.has(mime)) return 'video';
  if (audioTypes.has(mime)) return 'audio';
  return 'document';
}

/**
 * What a file is, from what its sender declared, its name and its first bytes: its stored type (never one a browser
 * could run script in: common/media-safety.ts) and the kind that decides its limit and how it is sent.
 */
export function identifyMedia(
  declared: string | null | undefined,
  filename: string,
  head: Buffer,
): { mime: string; kind: MediaKind } {
  const mime = storedMimeType(resolveMime(declared, filename), filename, head);
  return { mime, kind: classifyMedia(mime) };
}
