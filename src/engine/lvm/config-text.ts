/**
 * lvm2's text configuration format, as its metadata is written: `key = value` and nested
 * `name { … }` sections; values are integers, floats, "double-quoted strings" (with \" and \\
 * escapes), 'single-quoted strings', bare words, or flat [arrays] of those; `#` starts a comment.
 * The tokenizer follows libdm's: after `=`, `[` or `,` a token is a value, elsewhere a key, so a
 * section named `123` or `-x` is a name. Sections with the same name merge and a repeated key
 * keeps its last value, as in libdm. Depth, node count and array length are capped.
 *
 * One loop with an explicit stack and small position-returning helpers, rather than one closure
 * per grammar rule: the reader runs once per process, so most of its time is V8 interpreting and
 * compiling it, and fewer, smaller hot functions cost far less of both.
 */
import { DEFAULT_LVM_LIMITS, LvmError, type LvmLimits, quoted } from './errors.js';

export type ConfigScalar = string | number;
export type ConfigValue = ConfigScalar | ConfigScalar[];

export interface ConfigSection {
  readonly values: Map<string, ConfigValue>;
  readonly sections: Map<string, ConfigSection>;
  /** Byte offset of the section's name in the text (0 for the top level), for error messages. */
  readonly at: number;
}

const QUOTE = 34;
const HASH = 35;
const APOSTROPHE = 39;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const EQUALS = 61;
const ARRAY_OPEN = 91;
const ARRAY_CLOSE = 93;
const SECTION_OPEN = 123;
const SECTION_CLOSE = 125;

/**
 * Sticky regular expressions find where each token ends: V8 runs them as compiled native code from
 * the first call, where a character loop would run in its interpreter (about three times slower
 * on a text read once). Whitespace is C's isspace; a key or bare word ends where libdm ends it.
 */
const SPACE_AND_COMMENTS = /[\t\n\v\f\r ]*(?:#[^\n]*[\t\n\v\f\r ]*)*/y;
const WORD = /[^\t\n\v\f\r #={}]*/y;
/** A `"` string: a backslash escapes the character after it (libdm then unescapes only \" and \\). */
const DOUBLE_QUOTED = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"/y;
const SINGLE_QUOTED = /'[^']*'/y;
/** libdm's number token: a leading dot makes a float; otherwise a sign or digit, digits, one dot. */
const NUMBER = /\.[0-9]*|[0-9+-][0-9]*(?:\.[0-9]*)?/y;
const ENDS_WORD_CHARS = new Set([9, 10, 11, 12, 13, 32, HASH, EQUALS, SECTION_OPEN, SECTION_CLOSE]);

/** Where `pattern` (sticky, matching at least the empty string) stops matching from `at`. */
function runOf(pattern: RegExp, text: string, at: number): number {
  pattern.lastIndex = at;
  return pattern.test(text) ? pattern.lastIndex : at;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/** The closing quote of a string opening at `at`, or -1 when it is not closed. */
function closingQuote(text: string, at: number): number {
  const pattern = text.charCodeAt(at) === QUOTE ? DOUBLE_QUOTED : SINGLE_QUOTED;
  pattern.lastIndex = at;
  return pattern.test(text) ? pattern.lastIndex - 1 : -1;
}

/** The text of a string token from `open` to `close`; libdm unescapes only \" and \\ in `"` strings. */
function stringToken(text: string, open: number, close: number): string {
  const raw = text.slice(open + 1, close);
  return text.charCodeAt(open) === QUOTE && raw.includes('\\') ? raw.replace(/\\(["\\])/g, '$1') : raw;
}

/** Where the last scalarAt call stopped (a second return value, without allocating a pair). */
let scalarEnd = 0;

/** The scalar value at `at`; sets scalarEnd past it. */
function scalarAt(text: string, at: number, fail: (at: number, message: string) => never): ConfigScalar {
  const c = text.charCodeAt(at);
  if (c === QUOTE || c === APOSTROPHE) {
    const close = closingQuote(text, at);
    if (close < 0) fail(at, 'string is not closed');
    scalarEnd = close + 1;
    return stringToken(text, at, close);
  }
  if (isDigit(c) || c === MINUS || c === PLUS || c === DOT) {
    const stop = runOf(NUMBER, text, at);
    const token = text.slice(at, stop);
    const value = Number(token);
    if (token === '.' || Number.isNaN(value)) fail(at, `${quoted(token)} is not a number`);
    if (!token.includes('.') && !Number.isSafeInteger(value)) fail(at, `integer ${token} is out of range`);
    scalarEnd = stop;
    return value;
  }
  if (at >= text.length || ENDS_WORD_CHARS.has(c) || c === ARRAY_OPEN || c === ARRAY_CLOSE || c === COMMA) {
    fail(at, `expected a value, found ${describe(text, at, text.length)}`);
  }
  scalarEnd = runOf(WORD, text, at);
  return text.slice(at, scalarEnd);
}

export function parseConfigText(input: string, limits: LvmLimits = DEFAULT_LVM_LIMITS): ConfigSection {
  // The text ends at its end or at a NUL, as in libdm.
  const nul = input.indexOf('\0');
  const text = nul < 0 ? input : input.slice(0, nul);
  const end = text.length;
  const fail = (at: number, message: string): never => {
    throw new LvmError(`metadata text line ${lineAt(text, at)}: ${message}`);
  };
  // `at` stays a local of this function (the helpers return positions): a variable a closure
  // shares lives in a heap context, and every step of the loop would pay for that.
  const root: ConfigSection = { values: new Map(), sections: new Map(), at: 0 };
  const stack: ConfigSection[] = [root];
  let section = root;
  let nodes = 0;
  let at = 0;

  for (;;) {
    at = runOf(SPACE_AND_COMMENTS, text, at);
    if (at >= end) {
      if (stack.length > 1) fail(at, `section opened on line ${lineAt(text, section.at)} is not closed`);
      return root;
    }
    let c = text.charCodeAt(at);
    if (c === SECTION_CLOSE) {
      if (stack.length === 1) fail(at, '"}" without a section to close');
      stack.pop();
      section = stack[stack.length - 1]!;
      at++;
      continue;
    }
    if (++nodes > limits.maxNodes) fail(at, `more than ${limits.maxNodes} entries`);
    const nameAt = at;
    let name: string;
    if (c === QUOTE || c === APOSTROPHE) {
      const close = closingQuote(text, at);
      if (close < 0) fail(at, 'string is not closed');
      name = stringToken(text, at, close);
      at = close + 1;
    } else {
      const stop = runOf(WORD, text, at);
      name = text.slice(at, stop);
      at = stop;
    }
    if (name === '') fail(nameAt, `expected a name, found ${describe(text, nameAt, end)}`);
    at = runOf(SPACE_AND_COMMENTS, text, at);
    c = text.charCodeAt(at);
    if (c === SECTION_OPEN) {
      if (stack.length > limits.maxDepth) fail(at, `sections nested deeper than ${limits.maxDepth}`);
      at++;
      let child = section.sections.get(name);
      if (!child) {
        child = { values: new Map(), sections: new Map(), at: nameAt };
        section.sections.set(name, child);
      }
      stack.push(child);
      section = child;
    } else if (c === EQUALS) {
      at = runOf(SPACE_AND_COMMENTS, text, at + 1);
      if (text.charCodeAt(at) !== ARRAY_OPEN) {
        section.values.set(name, scalarAt(text, at, fail));
        at = scalarEnd;
        continue;
      }
      const arrayAt = at;
      const items: ConfigScalar[] = [];
      at++;
      for (;;) {
        at = runOf(SPACE_AND_COMMENTS, text, at);
        if (text.charCodeAt(at) === ARRAY_CLOSE) {
          at++;
          break;
        }
        if (at >= end) fail(arrayAt, 'array is not closed');
        if (++nodes > limits.maxNodes) fail(at, `more than ${limits.maxNodes} entries`);
        if (items.length >= limits.maxArrayItems)
          fail(arrayAt, `array of more than ${limits.maxArrayItems} items`);
        items.push(scalarAt(text, at, fail));
        at = scalarEnd;
        at = runOf(SPACE_AND_COMMENTS, text, at);
        if (text.charCodeAt(at) === COMMA) at++;
      }
      section.values.set(name, items);
    } else {
      fail(at, `expected "=" or "{" after ${quoted(name)}, found ${describe(text, at, end)}`);
    }
  }
}

/** Line number of byte `at`, counted only when an error needs it. */
function lineAt(text: string, at: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function describe(text: string, at: number, end: number): string {
  if (at >= end) return 'the end of the text';
  const word = text.slice(at, Math.min(end, at + 24)).split(/\s/)[0] ?? '';
  return quoted(word || text[at]!);
}
