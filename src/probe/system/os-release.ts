/**
 * os-release(5): shell-compatible assignments. Read the way systemd reads it (env-file.c), which is
 * what a booted guest itself shows: single quotes are literal, in double quotes a backslash
 * escapes only `"`, `\`, `` ` `` and `$` (before anything else it stays), unquoted a backslash
 * escapes any character, backslash-newline continues a line, `#` and `;` start comment lines,
 * quoted parts concatenate, and the last assignment of a name wins.
 */

export interface OsRelease {
  /** Every assignment, by name. */
  fields: Record<string, string>;
  name: string | null;
  versionId: string | null;
  prettyName: string | null;
  id: string | null;
  /** ID_LIKE split on spaces. */
  idLike: string[];
}

const WHITESPACE = ' \t\n\r';
const NEWLINE = '\n\r';
const NEEDS_ESCAPE_IN_DOUBLE_QUOTES = '"\\`$';
const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type State =
  | 'preKey'
  | 'key'
  | 'preValue'
  | 'value'
  | 'valueEscape'
  | 'single'
  | 'double'
  | 'doubleEscape'
  | 'comment'
  | 'commentEscape';

/** Every valid assignment of an env-style file (os-release, /etc/default/*). Never throws. */
export function parseEnvAssignments(text: string): Record<string, string> {
  const fields: Record<string, string> = Object.create(null);
  let state: State = 'preKey';
  let key = '';
  let value = '';
  // Length of the value before a run of unquoted trailing white space, which is dropped.
  let valueEndBeforeSpace = -1;

  const push = (): void => {
    const name = key.trimEnd();
    if (valueEndBeforeSpace >= 0) value = value.slice(0, valueEndBeforeSpace);
    if (VALID_NAME.test(name)) fields[name] = value;
    key = '';
    value = '';
    valueEndBeforeSpace = -1;
  };

  for (const c of text) {
    switch (state) {
      case 'preKey':
        if (c === '#' || c === ';') state = 'comment';
        else if (!WHITESPACE.includes(c)) {
          state = 'key';
          key = c;
        }
        break;
      case 'key':
        if (NEWLINE.includes(c)) {
          state = 'preKey';
          key = '';
        } else if (c === '=') {
          state = 'preValue';
          value = '';
          valueEndBeforeSpace = -1;
        } else key += c;
        break;
      case 'preValue':
        if (NEWLINE.includes(c)) {
          state = 'preKey';
          push();
        } else if (c === "'") state = 'single';
        else if (c === '"') state = 'double';
        else if (c === '\\') state = 'valueEscape';
        else if (!WHITESPACE.includes(c)) {
          state = 'value';
          value += c;
        }
        break;
      case 'value':
        if (NEWLINE.includes(c)) {
          state = 'preKey';
          push();
        } else if (c === '\\') {
          state = 'valueEscape';
          valueEndBeforeSpace = -1;
        } else {
          if (!WHITESPACE.includes(c)) valueEndBeforeSpace = -1;
          else if (valueEndBeforeSpace < 0) valueEndBeforeSpace = value.length;
          value += c;
        }
        break;
      case 'valueEscape':
        state = 'value';
        if (!NEWLINE.includes(c)) value += c;
        break;
      case 'single':
        if (c === "'") state = 'preValue';
        else value += c;
        break;
      case 'double':
        if (c === '"') state = 'preValue';
        else if (c === '\\') state = 'doubleEscape';
        else value += c;
        break;
      case 'doubleEscape':
        state = 'double';
        if (NEEDS_ESCAPE_IN_DOUBLE_QUOTES.includes(c)) value += c;
        else if (!NEWLINE.includes(c)) value += `\\${c}`;
        break;
      case 'comment':
        if (c === '\\') state = 'commentEscape';
        else if (NEWLINE.includes(c)) state = 'preKey';
        break;
      case 'commentEscape':
        state = NEWLINE.includes(c) ? 'preKey' : 'comment';
        break;
    }
  }
  // An unterminated last line (or quote) still counts, as in systemd.
  if (state !== 'preKey' && state !== 'key' && state !== 'comment' && state !== 'commentEscape') {
    if (state === 'doubleEscape') value += '\\';
    push();
  }
  return { ...fields };
}

const nonEmpty = (value: string | undefined): string | null =>
  value !== undefined && value.trim() !== '' ? value : null;

export function parseOsRelease(text: string): OsRelease {
  const fields = parseEnvAssignments(text);
  return {
    fields,
    name: nonEmpty(fields.NAME),
    versionId: nonEmpty(fields.VERSION_ID),
    prettyName: nonEmpty(fields.PRETTY_NAME),
    id: nonEmpty(fields.ID),
    idLike: (fields.ID_LIKE ?? '').split(/\s+/).filter(Boolean),
  };
}

/**
 * A short name for the root partition: "Debian GNU/Linux 12 root", "Rocky Linux 9.4 root". The
 * spec's defaults apply when fields are missing (NAME defaults to "Linux").
 */
export function osReleaseLabel(release: OsRelease): string {
  const name = release.name ?? (release.versionId === null ? release.prettyName : null) ?? 'Linux';
  return release.versionId !== null ? `${name} ${release.versionId} root` : `${name} root`;
}
