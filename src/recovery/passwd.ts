/** /etc/passwd (passwd(5)): name:password:uid:gid:gecos:home:shell, every other line kept as it is. */
import { displayText, type FileBytes, numberField, splitLines } from './lines.js';

export interface PasswdEntry {
  name: string;
  /** The password field: `x` when the password is in shadow. Raw (latin1) text. */
  passwordField: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export type PasswdLine =
  | { kind: 'entry'; raw: string; entry: PasswdEntry }
  /** Blank, `#` comment, NIS `+`/`-` compat entries, or anything that is not 7 valid fields. */
  | { kind: 'other'; raw: string; why: 'blank' | 'comment' | 'nis' | 'malformed' };

export interface PasswdFile {
  lines: PasswdLine[];
}

export function parsePasswdLine(raw: string): PasswdLine {
  if (raw.trim() === '') return { kind: 'other', raw, why: 'blank' };
  if (raw.startsWith('#')) return { kind: 'other', raw, why: 'comment' };
  if (raw.startsWith('+') || raw.startsWith('-')) return { kind: 'other', raw, why: 'nis' };
  const fields = raw.split(':');
  if (fields.length !== 7) return { kind: 'other', raw, why: 'malformed' };
  const [name, passwordField, uidText, gidText, gecos, home, shell] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const uid = numberField(uidText);
  const gid = numberField(gidText);
  if (name === '' || typeof uid !== 'number' || typeof gid !== 'number') {
    return { kind: 'other', raw, why: 'malformed' };
  }
  return {
    kind: 'entry',
    raw,
    entry: {
      name: displayText(name),
      passwordField,
      uid,
      gid,
      gecos: displayText(gecos),
      home: displayText(home),
      shell: displayText(shell),
    },
  };
}

export function parsePasswd(bytes: FileBytes): PasswdFile {
  return { lines: splitLines(bytes).map(parsePasswdLine) };
}
