/**
 * lvm2's text configuration format, as its metadata is written: `key = value` and nested
 * `name { … }` sections; values are integers, floats, "double-quoted strings" (with \" and \\
 * escapes), 'single-quoted strings', bare words, or flat [arrays] of those; `#` starts a comment.
 * The tokenizer follows libdm's: after `=`, `[` or `,` a token is a value, elsewhere a key, so a
 * section named `123` or `-x` is a name. Sections with the same name merge and a repeated key
 * keeps its last value, as in libdm. Depth, node count and array length are capped.
 */
import { DEFAULT_LVM_LIMITS, LvmError, type LvmLimits, quoted } from './errors.js';

export type ConfigScalar = string | number;
export type ConfigValue = ConfigScalar | ConfigScalar[];

export interface ConfigSection {
  readonly values: Map<string, ConfigValue>;
  readonly sections: Map<string, ConfigSection>;
  /** Line of the section's name (1 for the top level), for error messages. */
  readonly line: number;
}

enum Ch {
  Tab = 9,
  Newline = 10,
  Space = 32,
  Quote = 34,
  Hash = 35,
  Apostrophe = 39,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Zero = 48,
  Nine = 57,
  Equals = 61,
  ArrayOpen = 91,
  Backslash = 92,
  ArrayClose = 93,
  SectionOpen = 123,
  SectionClose = 125,
}

// C isspace: space, \t, \n, \v, \f, \r.
const isSpace = (c: number) => c === Ch.Space || (c >= Ch.Tab && c <= 13);
const isDigit = (c: number) => c >= Ch.Zero && c <= Ch.Nine;
const endsWord = (c: number) =>
  Number.isNaN(c) ||
  c === 0 ||
  isSpace(c) ||
  c === Ch.Hash ||
  c === Ch.Equals ||
  c === Ch.SectionOpen ||
  c === Ch.SectionClose;

export function parseConfigText(text: string, limits: LvmLimits = DEFAULT_LVM_LIMITS): ConfigSection {
  let at = 0;
  let line = 1;
  let nodes = 0;
  // The text ends at its end or at a NUL, as in libdm.
  const nul = text.indexOf('\0');
  const end = nul < 0 ? text.length : nul;
  const code = (i: number) => (i < end ? text.charCodeAt(i) : Number.NaN);

  const fail = (message: string): never => {
    throw new LvmError(`metadata text line ${line}: ${message}`);
  };
  const count = () => {
    if (++nodes > limits.maxNodes) fail(`more than ${limits.maxNodes} entries`);
  };

  const skipSpace = () => {
    while (at < end) {
      const c = text.charCodeAt(at);
      if (c === Ch.Newline) line++;
      else if (c === Ch.Hash) {
        const eol = text.indexOf('\n', at);
        at = eol < 0 || eol > end ? end : eol;
        continue;
      } else if (!isSpace(c)) return;
      at++;
    }
  };

  const describe = (i: number): string => {
    if (i >= end) return 'the end of the text';
    const word = text.slice(i, Math.min(end, i + 24)).split(/\s/)[0] ?? '';
    return quoted(word || text[i]!);
  };

  /** A quoted token starting at `at`; returns its text between the quotes, unescaped for `"`. */
  const quotedToken = (): string => {
    const quote = text.charCodeAt(at);
    const open = line;
    let i = at + 1;
    let escaped = false;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === quote) break;
      if (c === Ch.Newline) line++;
      if (quote === Ch.Quote && c === Ch.Backslash && i + 1 < end) {
        escaped = true;
        if (text.charCodeAt(i + 1) === Ch.Newline) line++;
        i++;
      }
      i++;
    }
    if (i >= end) {
      line = open;
      fail('string is not closed');
    }
    const raw = text.slice(at + 1, i);
    at = i + 1;
    // libdm unescapes only \" and \\; any other backslash stays as written.
    return escaped ? raw.replace(/\\(["\\])/g, '$1') : raw;
  };

  const word = (): string => {
    const from = at;
    while (!endsWord(code(at))) at++;
    return text.slice(from, at);
  };

  const scalar = (): ConfigScalar => {
    const c = code(at);
    if (c === Ch.Quote || c === Ch.Apostrophe) return quotedToken();
    if (isDigit(c) || c === Ch.Plus || c === Ch.Minus || c === Ch.Dot) {
      const from = at;
      let float = c === Ch.Dot;
      at++;
      for (; at < end; at++) {
        const d = text.charCodeAt(at);
        if (isDigit(d)) continue;
        if (d === Ch.Dot && !float) {
          float = true;
          continue;
        }
        break;
      }
      const token = text.slice(from, at);
      const value = Number(token);
      if (token === '.' || Number.isNaN(value)) fail(`${quoted(token)} is not a number`);
      if (!float && !Number.isSafeInteger(value)) fail(`integer ${token} is out of range`);
      return value;
    }
    if (endsWord(c) || c === Ch.ArrayOpen || c === Ch.ArrayClose || c === Ch.Comma) {
      fail(`expected a value, found ${describe(at)}`);
    }
    return word();
  };

  const value = (): ConfigValue => {
    if (code(at) !== Ch.ArrayOpen) return scalar();
    at++;
    const items: ConfigScalar[] = [];
    for (;;) {
      skipSpace();
      if (code(at) === Ch.ArrayClose) {
        at++;
        return items;
      }
      if (at >= end) fail('array is not closed');
      count();
      if (items.length >= limits.maxArrayItems) fail(`array of more than ${limits.maxArrayItems} items`);
      items.push(scalar());
      skipSpace();
      if (code(at) === Ch.Comma) at++;
    }
  };

  const key = (): string => {
    const c = code(at);
    const name = c === Ch.Quote || c === Ch.Apostrophe ? quotedToken() : word();
    if (name === '') fail(`expected a name, found ${describe(at)}`);
    return name;
  };

  const newSection = (): ConfigSection => ({ values: new Map(), sections: new Map(), line });

  /** Items until `}` (depth > 0) or the end of the text (depth 0). */
  const items = (into: ConfigSection, depth: number): void => {
    for (;;) {
      skipSpace();
      if (at >= end) {
        if (depth > 0) fail(`section opened on line ${into.line} is not closed`);
        return;
      }
      if (code(at) === Ch.SectionClose) {
        if (depth === 0) fail('"}" without a section to close');
        at++;
        return;
      }
      count();
      const name = key();
      skipSpace();
      const c = code(at);
      if (c === Ch.SectionOpen) {
        if (depth + 1 > limits.maxDepth) fail(`sections nested deeper than ${limits.maxDepth}`);
        at++;
        let section = into.sections.get(name);
        if (!section) {
          section = newSection();
          into.sections.set(name, section);
        }
        items(section, depth + 1);
      } else if (c === Ch.Equals) {
        at++;
        skipSpace();
        into.values.set(name, value());
      } else {
        fail(`expected "=" or "{" after ${quoted(name)}, found ${describe(at)}`);
      }
    }
  };

  const root = newSection();
  items(root, 0);
  return root;
}
