/**
 * string-width as the TUI bundle hands it to Ink (scripts/bundle-tui.mjs swaps it in): the same
 * widths, with a shortcut for text made only of characters one column wide.
 *
 * string-width measures printable ASCII at once, but anything else grapheme by grapheme with
 * Intl.Segmenter and a `\p{RGI_Emoji}` regular expression. The first use of those costs tens of
 * milliseconds (the segmenter's data, and the emoji expression compiled once for Latin-1 text and
 * again for anything beyond it), which the app's first frame paid for its `·` separators, the disk
 * bar's blocks, `…` and the arrows of the help line. The characters below are single code units
 * that form a grapheme on their own, are not emoji and not zero-width, and are narrow or ambiguous
 * (which string-width counts as narrow unless told otherwise): a string of them is as wide as it
 * is long. Left out on purpose: U+00AD (soft hyphen, zero-width), and ©, ®, the arrows and the
 * geometric shapes that can take an emoji presentation (U+2194–2199, U+21A9–21AA, ▪ ▫ ▶ ◀ ◻ ◼ ◽ ◾).
 */
import stringWidth from 'string-width';

const ONE_COLUMN_EACH =
  /^[\u0020-\u007e\u00a0-\u00a8\u00aa-\u00ac\u00af-\u00ff\u2010-\u2027\u2190-\u2193\u219a-\u21a8\u21ab-\u21ff\u2500-\u259f\u25a0-\u25a9\u25ac-\u25b5\u25b7-\u25bf\u25c1-\u25fa]*$/;
/** Colours and weights: the only escape sequences in the text Ink measures, from its own styling. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what an SGR sequence starts with
const SGR = /\u001b\[[0-9;]*m/g;

export default function narrowFirstStringWidth(
  string: string,
  options?: Parameters<typeof stringWidth>[1],
): number {
  if (options === undefined && typeof string === 'string') {
    const visible = string.includes('\u001b') ? string.replace(SGR, '') : string;
    if (ONE_COLUMN_EACH.test(visible)) return visible.length;
  }
  return stringWidth(string, options);
}
