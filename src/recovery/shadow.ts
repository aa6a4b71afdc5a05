/**
 * /etc/shadow (shadow(5)): name:password:lastchg:min:max:warn:inactive:expire:reserved, the same
 * 9 fields shadow-utils accepts (and its old 5-field form). Every other line is kept byte for byte.
 */
import { displayText, type FileBytes, numberField, splitLines } from './lines.js';
import { elidePasswordField } from './password-state.js';

export interface ShadowEntry {
  name: string;
  /** Raw (latin1) password field: a hash. Never shown; see elidePasswordField. */
  passwordField: string;
  /** Days since 1970-01-01 of the last change; 0 forces a change at next login. */
  lastChange: number | null;
  minDays: number | null;
  maxDays: number | null;
  warnDays: number | null;
  inactiveDays: number | null;
  /** Day the account expires (days since 1970-01-01). */
  expires: number | null;
}

export type ShadowLine =
  | { kind: 'entry'; raw: string; entry: ShadowEntry }
  | { kind: 'other'; raw: string; why: 'blank' | 'comment' | 'nis' | 'malformed' };

export interface ShadowFile {
  lines: ShadowLine[];
}

/** Field positions, shared with the rewrite. */
export const SHADOW_FIELD = {
  name: 0,
  password: 1,
  lastChange: 2,
  minDays: 3,
  maxDays: 4,
  warnDays: 5,
  inactiveDays: 6,
  expires: 7,
} as const;

export function parseShadowLine(raw: string): ShadowLine {
  if (raw.trim() === '') return { kind: 'other', raw, why: 'blank' };
  if (raw.startsWith('#')) return { kind: 'other', raw, why: 'comment' };
  if (raw.startsWith('+') || raw.startsWith('-')) return { kind: 'other', raw, why: 'nis' };
  const fields = raw.split(':');
  if (fields.length !== 9 && fields.length !== 5) return { kind: 'other', raw, why: 'malformed' };
  const numbers = fields.slice(2, 8).map(numberField);
  if (fields[0] === '' || numbers.some((n) => n === undefined))
    return { kind: 'other', raw, why: 'malformed' };
  const at = (i: number): number | null => (numbers[i - 2] as number | null | undefined) ?? null;
  return {
    kind: 'entry',
    raw,
    entry: {
      name: displayText(fields[0]!),
      passwordField: fields[1]!,
      lastChange: at(SHADOW_FIELD.lastChange),
      minDays: at(SHADOW_FIELD.minDays),
      maxDays: at(SHADOW_FIELD.maxDays),
      warnDays: at(SHADOW_FIELD.warnDays),
      inactiveDays: at(SHADOW_FIELD.inactiveDays),
      expires: at(SHADOW_FIELD.expires),
    },
  };
}

export function parseShadow(bytes: FileBytes): ShadowFile {
  return { lines: splitLines(bytes).map(parseShadowLine) };
}

/** A shadow line for people: the password field elided, the rest as text. */
export function elideShadowLine(raw: string): string {
  const fields = raw.split(':');
  // Without a field separator the whole line could be a stray hash.
  if (fields.length < 2) return elidePasswordField(raw);
  return fields
    .map((field, i) => (i === SHADOW_FIELD.password ? elidePasswordField(field) : displayText(field)))
    .join(':');
}
