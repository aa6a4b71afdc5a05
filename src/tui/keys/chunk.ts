/**
 * Ink hands a listener one `input` per chunk read from the terminal: escape sequences come one at a
 * time, but plain keys typed fast or pasted (`rrr`, `ay`, `/tmp/x.img⏎`) come as one string. Every
 * key of a chunk must count, so a chunk is cut into the keys it holds, each with the Key flags Ink
 * would have given it alone.
 */
import type { Key } from 'ink';

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

export interface KeyPress {
  input: string;
  key: Key;
}

/** One character as Ink's parser reads it when it arrives alone. */
function single(char: string): KeyPress {
  if (char === '\r' || char === '\n') return { input: '', key: { ...NO_KEY, return: true } };
  if (char === '\t') return { input: '', key: { ...NO_KEY, tab: true } };
  if (char === '\u007f' || char === '\b') return { input: '', key: { ...NO_KEY, backspace: true } };
  const code = char.codePointAt(0) ?? 0;
  // Ctrl-A … Ctrl-Z arrive as 0x01 … 0x1a: Ink names them by their letter.
  if (code >= 1 && code <= 26)
    return { input: String.fromCharCode(code + 96), key: { ...NO_KEY, ctrl: true } };
  return { input: char, key: { ...NO_KEY, shift: /^[A-Z]$/.test(char) } };
}

/** The keys of one chunk, in order (a lone key or an escape sequence is passed through as it is). */
export function splitChunk(input: string, key: Key): KeyPress[] {
  const chars = [...input];
  if (chars.length <= 1 || key.ctrl || key.meta || key.escape) return [{ input, key }];
  return chars.map(single);
}
