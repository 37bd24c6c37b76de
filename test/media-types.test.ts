/** What a file is stored and served as, from its declared type, its name and its first bytes (common/media-safety.ts). */
import { describe, expect, it } from 'vitest';
import { identifyMedia } from '../common/media';
import { mediaPresentation, sniffSafeType } from '../common/media-safety';
import { HTML_PAGE, PNG_1PX, SVG_WITH_SCRIPT } from './helpers/media-files';

describe('types, read from the bytes', () => {
  it('sniffs the signatures of the files agents and customers send', () => {
    expect(sniffSafeType(PNG_1PX)).toBe('image/png');
    expect(sniffSafeType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(sniffSafeType(Buffer.from('GIF89a....'))).toBe('image/gif');
    expect(sniffSafeType(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(sniffSafeType(Buffer.from('%PDF-1.7'))).toBe('application/pdf');
    expect(sniffSafeType(Buffer.from('\0\0\0\x18ftypmp42'))).toBe('video/mp4');
    expect(sniffSafeType(Buffer.from('\0\0\0\x18ftyp3gp4'))).toBe('video/3gpp');
    expect(sniffSafeType(Buffer.from('OggS\0'))).toBe('audio/ogg');
    expect(sniffSafeType(Buffer.from(HTML_PAGE))).toBeNull();
    expect(sniffSafeType(Buffer.from(SVG_WITH_SCRIPT))).toBeNull();
  });

  it('never stores a script-capable type, whatever is declared or named', () => {
    const html = Buffer.from(HTML_PAGE);
    for (const declared of [
      'text/html',
      'TEXT/HTML; charset=utf-8',
      'application/xhtml+xml',
      'image/svg+xml',
      'text/xml',
      'application/atom+xml',
      'text/javascript',
      'multipart/related',
    ])
      expect(identifyMedia(declared, 'x.bin', html)).toEqual({ mime: 'application/octet-stream', kind: 'document' });
    for (const name of ['a.html', 'a.HTM', 'a.svg', 'a.xhtml', 'a.js', 'a.mhtml'])
      expect(identifyMedia('text/plain', name, html).mime).toBe('application/octet-stream');
    // Safe declarations are kept as they are.
    expect(identifyMedia('application/pdf', 'a.pdf', Buffer.from('%PDF'))).toEqual({
      mime: 'application/pdf',
      kind: 'document',
    });
    expect(identifyMedia('image/jpeg', 'a.jpg', Buffer.alloc(4))).toEqual({ mime: 'image/jpeg', kind: 'image' });
  });

  it('serves inline only images, audio and video; everything else is an octet-stream attachment', () => {
    expect(mediaPresentation('image/jpeg', 'agent')).toEqual({ contentType: 'image/jpeg', disposition: 'inline' });
    expect(mediaPresentation('audio/ogg', 'agent')).toEqual({ contentType: 'audio/ogg', disposition: 'inline' });
    expect(mediaPresentation('image/jpeg', 'public')).toEqual({ contentType: 'image/jpeg', disposition: 'attachment' });
    for (const mime of ['text/html', 'image/svg+xml', 'application/pdf', 'text/plain', 'application/xml'])
      expect(mediaPresentation(mime, 'agent')).toEqual({
        contentType: 'application/octet-stream',
        disposition: 'attachment',
      });
    expect(mediaPresentation('text/html', 'public').contentType).toBe('application/octet-stream');
    expect(mediaPresentation('application/pdf', 'public').contentType).toBe('application/pdf');
  });
});
