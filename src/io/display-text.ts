/**
 * Text read from disks, filesystems and directory listings, made safe to draw on a terminal.
 *
 * A partition name, a label or a file name is chosen by whoever made the disk. Written to a
 * terminal as it is, `ESC ] 0 ;…BEL` sets the window title, `ESC ] 52` writes the clipboard, `CR` and
 * `ESC [ 2J` overwrite other rows, and a bidi override reorders what follows it. Every such
 * character becomes a visible escape instead: C0 controls and DEL as `\x1b`, C1 controls, bidi
 * controls and lone UTF-16 surrogates as `\u009b`, `\u202e`, `\ud800`; bytes that are not UTF-8
 * as `\xff` (see decodeUtf8Visibly). Every escape is printable ASCII, one column per character, and
 * contains nothing that is escaped again, so applying it twice changes nothing. Everything else,
 * including valid multibyte text, is kept as it is.
 */

declare const displayBrand: unique symbol;

/** A string that holds nothing a terminal would act on: it may be drawn as it is. */
export type DisplayText = string & { readonly [displayBrand]: true };

/** Bidi marks, embeddings, overrides and isolates: each can reorder the text drawn after it. */
const BIDI = new Set([
  0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
]);

/**
 * Anything that might need escaping, matched by UTF-16 code unit (no `u` flag, so lone surrogates
 * match too; a valid pair matches as well and is left as it is by the slow path).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const SUSPECT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]/;

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const hex4 = (n: number) => n.toString(16).padStart(4, '0');

function escapeCodePoint(cp: number): string | undefined {
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex2(cp)}`;
  if ((cp >= 0x80 && cp <= 0x9f) || BIDI.has(cp) || (cp >= 0xd800 && cp <= 0xdfff)) return `\\u${hex4(cp)}`;
  return undefined;
}

/** `text` with every control, bidi control and lone surrogate replaced by a visible escape. */
export function displayText(text: string): DisplayText {
  if (!SUSPECT.test(text)) return text as DisplayText;
  let out = '';
  // for…of walks code points: a valid surrogate pair comes as one, a lone surrogate on its own.
  for (const char of text) out += escapeCodePoint(char.codePointAt(0)!) ?? char;
  return out as DisplayText;
}

/**
 * The same, line by line: the newlines of a multi-line message are kept, every other control is
 * escaped. For messages on stderr that may quote a file name or disk text.
 */
export function displayLines(text: string): string {
  return text.includes('\n') ? text.split('\n').map(displayText).join('\n') : displayText(text);
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one. */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const lead = b[i]!;
  const cont = (at: number, low = 0x80, high = 0xbf) => {
    const x = b[at];
    return x !== undefined && x >= low && x <= high;
  };
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    // No overlong forms (E0 80..9F) and no UTF-16 surrogates (ED A0..BF).
    const low = lead === 0xe0 ? 0xa0 : 0x80;
    const high = lead === 0xed ? 0x9f : 0xbf;
    return cont(i + 1, low, high) && cont(i + 2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    // No overlong forms (F0 80..8F) and nothing past U+10FFFF (F4 90..).
    const low = lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xf4 ? 0x8f : 0xbf;
    return cont(i + 1, low, high) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextDecoder('utf-8');

/**
 * UTF-8 bytes as text, each byte that is not part of a valid sequence written as `\xNN`, where a
 * plain decoder would silently put U+FFFD. Controls are kept as characters (JSON escapes them
 * itself; displayText escapes them for the screen).
 */
export function decodeUtf8Visibly(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    let out = '';
    let i = 0;
    while (i < bytes.length) {
      const length = utf8SequenceLength(bytes, i);
      if (length === 0) {
        out += `\\x${hex2(bytes[i]!)}`;
        i += 1;
      } else {
        out += utf8.decode(bytes.subarray(i, i + length));
        i += length;
      }
    }
    return out;
  }
}
