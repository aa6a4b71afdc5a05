/**
 * The accounts of a guest from its passwd and shadow: who they are, whether and how a password
 * can log in, and the password's age and expiry as pam_unix judges them. Nothing here holds a
 * hash: the password is described by its state and scheme only.
 */
import { RecoveryError } from './errors.js';
import { type PasswdFile, parsePasswd } from './passwd.js';
import { type PasswordState, passwordState } from './password-state.js';
import { parseShadow, type ShadowEntry, type ShadowFile } from './shadow.js';
import { MAX_ACCOUNT_FILE_BYTES, readTreeFile, TreeError, type TreeReader } from './tree.js';

export const DAY_MS = 86_400_000;

/** A day counted from 1970-01-01, as shadow counts, with its date. */
export interface Day {
  days: number;
  /** YYYY-MM-DD (UTC); null when the number is beyond what a date can show. */
  date: string | null;
}

export interface Account {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
  password: PasswordState;
  /** Where the password lives: shadow (passwd says `x`), passwd itself, or nowhere (`x` without a shadow line). */
  passwordSource: 'shadow' | 'passwd' | 'missing';
  lastChange: Day | null;
  /** lastchg is 0: the password must be changed at the next login. */
  mustChange: boolean;
  minDays: number | null;
  maxDays: number | null;
  warnDays: number | null;
  inactiveDays: number | null;
  /** lastchg + max: after it, the next login must change the password. */
  passwordExpires: Day | null;
  passwordExpired: boolean;
  /** Past the inactivity period after the password expired: no login at all. */
  inactiveLocked: boolean;
  accountExpires: Day | null;
  accountExpired: boolean;
  /** 1-based line numbers in passwd and shadow. */
  passwdLine: number;
  shadowLine: number | null;
}

export const today = (now = Date.now()): number => Math.floor(now / DAY_MS);

export function dayOf(days: number): Day {
  const ms = days * DAY_MS;
  // Date covers ±8.64e15 ms; shadow fields can hold more than that.
  return { days, date: Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().slice(0, 10) : null };
}

/** The first entry per name, with its line number: the one getspnam(3) returns. */
function firstShadowEntries(shadow: ShadowFile): Map<string, { entry: ShadowEntry; line: number }> {
  const byName = new Map<string, { entry: ShadowEntry; line: number }>();
  shadow.lines.forEach((line, index) => {
    if (line.kind === 'entry' && !byName.has(line.entry.name)) {
      byName.set(line.entry.name, { entry: line.entry, line: index + 1 });
    }
  });
  return byName;
}

/** pam_unix's shadow check (check_shadow_expiry), day by day. */
function aging(entry: ShadowEntry | null, day: number) {
  const lastChange = entry?.lastChange ?? null;
  const max = entry?.maxDays ?? null;
  const inactive = entry?.inactiveDays ?? null;
  const expires = entry?.expires ?? null;
  const aged = lastChange !== null && lastChange > 0 && max !== null;
  return {
    mustChange: lastChange === 0,
    passwordExpires: aged ? dayOf(lastChange + max) : null,
    passwordExpired: aged && day - lastChange > max,
    inactiveLocked: aged && inactive !== null && day - lastChange > max + inactive,
    accountExpired: expires !== null && day >= expires,
  };
}

/** Accounts in passwd order; `day` is today's day number (for expiry). */
export function listAccounts(passwd: PasswdFile, shadow: ShadowFile | null, day = today()): Account[] {
  const shadowed = shadow ? firstShadowEntries(shadow) : new Map();
  const accounts: Account[] = [];
  passwd.lines.forEach((line, index) => {
    if (line.kind !== 'entry') return;
    const { name, uid, gid, gecos, home, shell, passwordField } = line.entry;
    const found = shadowed.get(name) ?? null;
    const entry: ShadowEntry | null = found?.entry ?? null;
    // pam_unix reads shadow only when passwd says `x` (or `##name`); otherwise passwd's field is the hash.
    const inShadow = passwordField === 'x' || passwordField === `##${name}`;
    const passwordSource = inShadow ? (entry ? 'shadow' : 'missing') : 'passwd';
    const password: PasswordState =
      passwordSource === 'shadow'
        ? passwordState(entry!.passwordField)
        : passwordSource === 'passwd'
          ? passwordState(passwordField)
          : { state: 'no-login' };
    accounts.push({
      name,
      uid,
      gid,
      gecos,
      home,
      shell,
      password,
      passwordSource,
      lastChange: entry?.lastChange != null ? dayOf(entry.lastChange) : null,
      minDays: entry?.minDays ?? null,
      maxDays: entry?.maxDays ?? null,
      warnDays: entry?.warnDays ?? null,
      inactiveDays: entry?.inactiveDays ?? null,
      accountExpires: entry?.expires != null ? dayOf(entry.expires) : null,
      ...aging(entry, day),
      passwdLine: index + 1,
      shadowLine: found?.line ?? null,
    });
  });
  return accounts;
}

/** listAccounts from the files' bytes (shadow may be missing). */
export function readAccounts(passwd: Buffer, shadow: Buffer | null, day = today()): Account[] {
  return listAccounts(parsePasswd(passwd), shadow ? parseShadow(shadow) : null, day);
}

/** The accounts of the guest in `tree`; RecoveryError when its passwd cannot be read. */
export function listGuestAccounts(tree: TreeReader, day = today()): Account[] {
  try {
    const passwd = readTreeFile(tree, '/etc/passwd', MAX_ACCOUNT_FILE_BYTES);
    if (passwd === null) throw new RecoveryError(`${tree.description}: no /etc/passwd`);
    return readAccounts(passwd, readTreeFile(tree, '/etc/shadow', MAX_ACCOUNT_FILE_BYTES), day);
  } catch (error) {
    if (error instanceof TreeError) throw new RecoveryError(`${tree.description}: ${error.message}`);
    throw error;
  }
}
