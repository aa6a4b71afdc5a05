/**
 * Which hash a guest expects for a new password, decided from its own files the way its passwd(1)
 * would: PAM's pam_unix options first (passwd goes through PAM, and Debian and Ubuntu say
 * `yescrypt` there while login.defs still says SHA512), then login.defs ENCRYPT_METHOD, then the
 * hashes already in shadow, then what the guest's crypt library can read. Nothing is run.
 */
import { type HashScheme, passwordState } from './password-state.js';
import { parseShadow } from './shadow.js';
import { listTreeDir, MAX_ACCOUNT_FILE_BYTES, readTreeFile, TreeError, type TreeReader } from './tree.js';

/** Schemes a new password is written in. */
export type WritableScheme = 'yescrypt' | 'gost-yescrypt' | 'sha512crypt' | 'sha256crypt' | 'bcrypt';

/** What the guest's crypt(3) reads, as far as its files tell. */
export type GuestCrypt =
  /** libxcrypt with yescrypt compiled in (Debian 11+, Ubuntu 20.04+, Fedora, RHEL 9…). */
  | 'libxcrypt-yescrypt'
  /** A libcrypt without yescrypt: glibc's own (before libxcrypt) or a libxcrypt built without it. */
  | 'libcrypt-no-yescrypt'
  /** musl's crypt (Alpine): SHA-256/512, MD5, bcrypt, DES; no yescrypt. */
  | 'musl'
  | 'unknown';

export interface HashPolicy {
  scheme: WritableScheme;
  /** yescrypt cost factor, SHA rounds or bcrypt cost; null for the library's default. */
  cost: number | null;
  /** Where the choice comes from, for people: `/etc/pam.d/common-password: pam_unix.so yescrypt`. */
  reason: string;
  guestCrypt: GuestCrypt;
  /** Why the choice differs from what the guest's files ask for, if it does. */
  notes: string[];
}

/** A scheme a guest's files can ask for (some are never written; see chooseHashPolicy). */
export type RequestedScheme = WritableScheme | 'md5crypt' | 'descrypt' | 'bigcrypt';

export interface SchemeRequest {
  scheme: RequestedScheme;
  cost: number | null;
  reason: string;
}

const decoder = new TextDecoder('utf-8');

function readText(tree: TreeReader, path: string, warnings: string[]): string | null {
  try {
    const bytes = readTreeFile(tree, path);
    return bytes === null ? null : decoder.decode(bytes);
  } catch (error) {
    if (!(error instanceof TreeError)) throw error;
    warnings.push(error.message);
    return null;
  }
}

/**
 * login.defs(5) as shadow-utils reads it (getdef.c): `NAME value`, `#` comments; the value starts
 * after blanks and quotes and ends at the next quote. The last setting of a name wins.
 */
export function parseLoginDefs(text: string): Record<string, string> {
  const defs: Record<string, string> = Object.create(null);
  for (const line of text.split('\n')) {
    const match = /^[ \t]*([^ \t#][^ \t]*)[ \t]+(.*)$/.exec(line.trimEnd());
    if (!match) continue;
    defs[match[1]!] = match[2]!.replace(/^[ "\t]+/, '').replace(/".*$/, '');
  }
  return defs;
}

const integer = (text: string | undefined): number | null =>
  text !== undefined && /^[0-9]{1,10}$/.test(text.trim()) ? Number(text.trim()) : null;

const ENCRYPT_METHODS = new Map<string, RequestedScheme>([
  ['YESCRYPT', 'yescrypt'],
  ['SHA512', 'sha512crypt'],
  ['SHA256', 'sha256crypt'],
  ['BCRYPT', 'bcrypt'],
  ['MD5', 'md5crypt'],
  ['DES', 'descrypt'],
]);

/** shadow-utils takes the one bound that is set, or the higher of the two; a range is narrowed to its top. */
function roundsFrom(defs: Record<string, string>, min: string, max: string): number | null {
  const low = integer(defs[min]);
  const high = integer(defs[max]);
  if (low === null) return high;
  if (high === null) return low;
  return Math.max(low, high);
}

/** What login.defs asks for (shadow-utils' own tools: chpasswd, newusers, and passwd without PAM). */
export function loginDefsRequest(
  defs: Record<string, string>,
  path = '/etc/login.defs',
): SchemeRequest | null {
  const method = defs.ENCRYPT_METHOD?.trim().toUpperCase();
  const scheme = method === undefined ? undefined : ENCRYPT_METHODS.get(method);
  if (scheme === undefined) {
    // Before ENCRYPT_METHOD there was MD5_CRYPT_ENAB.
    return defs.MD5_CRYPT_ENAB?.trim().toLowerCase() === 'yes'
      ? { scheme: 'md5crypt', cost: null, reason: `${path}: MD5_CRYPT_ENAB yes` }
      : null;
  }
  return { scheme, cost: loginDefsCost(defs, scheme), reason: `${path}: ENCRYPT_METHOD ${method}` };
}

/** The cost login.defs sets for `scheme`: YESCRYPT_COST_FACTOR, SHA_CRYPT_*_ROUNDS, BCRYPT_*_ROUNDS. */
export function loginDefsCost(defs: Record<string, string>, scheme: RequestedScheme): number | null {
  switch (scheme) {
    case 'yescrypt':
    case 'gost-yescrypt':
      return integer(defs.YESCRYPT_COST_FACTOR);
    case 'sha512crypt':
    case 'sha256crypt':
      return roundsFrom(defs, 'SHA_CRYPT_MIN_ROUNDS', 'SHA_CRYPT_MAX_ROUNDS');
    case 'bcrypt':
      return roundsFrom(defs, 'BCRYPT_MIN_ROUNDS', 'BCRYPT_MAX_ROUNDS');
    default:
      return null;
  }
}

const PAM_HASH_OPTIONS = new Map<string, RequestedScheme>([
  ['yescrypt', 'yescrypt'],
  ['gost_yescrypt', 'gost-yescrypt'],
  ['sha512', 'sha512crypt'],
  ['sha256', 'sha256crypt'],
  ['blowfish', 'bcrypt'],
  ['md5', 'md5crypt'],
  ['bigcrypt', 'bigcrypt'],
]);

export interface PamLine {
  type: string;
  control: string;
  module: string;
  args: string[];
}

/** One line of a PAM service file: `type control module args`, control possibly `[a=b c=d]`. */
export function parsePamLine(line: string): PamLine | null {
  const text = line.replace(/#.*/, '').trim();
  if (text === '') return null;
  if (text.startsWith('@include')) {
    const target = text.slice('@include'.length).trim();
    return target ? { type: '@include', control: 'include', module: target, args: [] } : null;
  }
  const match = /^(-?\S+)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$/.exec(text);
  if (!match) return null;
  return {
    type: match[1]!.replace(/^-/, '').toLowerCase(),
    control: match[2]!,
    module: match[3]!,
    args: match[4]!.split(/\s+/).filter(Boolean),
  };
}

const PAM_DIRS = ['/etc/pam.d', '/usr/lib/pam.d'];
const MAX_PAM_DEPTH = 10;

/**
 * The pam_unix options for passwd's password stack, following `@include`, `include` and `substack`
 * from /etc/pam.d/passwd (or the common stacks when it is missing).
 */
function pamRequest(tree: TreeReader, warnings: string[]): SchemeRequest | null {
  const visited = new Set<string>();
  const walk = (service: string, depth: number): SchemeRequest | null => {
    if (depth > MAX_PAM_DEPTH || visited.has(service) || service.includes('/')) return null;
    visited.add(service);
    for (const dir of PAM_DIRS) {
      const path = `${dir}/${service}`;
      const text = readText(tree, path, warnings);
      if (text === null) continue;
      for (const line of text.split('\n')) {
        const pam = parsePamLine(line);
        if (!pam) continue;
        if (
          pam.type === '@include' ||
          (pam.type === 'password' && /^(include|substack)$/.test(pam.control))
        ) {
          const found = walk(pam.module, depth + 1);
          if (found) return found;
          continue;
        }
        if (pam.type !== 'password' || !/(^|\/)pam_unix\.so$/.test(pam.module)) continue;
        let scheme: RequestedScheme | null = null;
        let option = '';
        let cost: number | null = null;
        // pam_unix lets the last hash option win.
        for (const arg of pam.args) {
          const named = PAM_HASH_OPTIONS.get(arg);
          if (named) {
            scheme = named;
            option = arg;
          }
          const rounds = /^rounds=([0-9]{1,10})$/.exec(arg);
          if (rounds) cost = Number(rounds[1]);
        }
        if (scheme === null) return null; // pam_unix then follows login.defs
        return { scheme, cost, reason: `${path}: pam_unix.so ${option}` };
      }
      return null;
    }
    return null;
  };
  for (const service of ['passwd', 'common-password', 'system-auth', 'password-auth']) {
    const found = walk(service, 0);
    if (found) return found;
  }
  return null;
}

const LIBRARY_DIRS = ['/lib', '/lib64', '/usr/lib', '/usr/lib64'];
const LIBCRYPT_NAMES = ['libcrypt.so.1', 'libcrypt.so.2'];
const MAX_LIBRARY_BYTES = 16 << 20;
/** Strings only libxcrypt's yescrypt code carries. */
const YESCRYPT_MARKERS = [Buffer.from('yescrypt-prehash'), Buffer.from('$y$\0')];

/** What crypt library the guest has: musl's, a libcrypt with yescrypt, or one without. */
export function detectGuestCrypt(tree: TreeReader, warnings: string[] = []): GuestCrypt {
  const attempt = <T>(look: () => T, fallback: T): T => {
    try {
      return look();
    } catch (error) {
      if (!(error instanceof TreeError)) throw error;
      warnings.push(error.message);
      return fallback;
    }
  };
  for (const dir of ['/lib', '/usr/lib']) {
    if (attempt(() => listTreeDir(tree, dir), []).some((name) => /^ld-musl-.*\.so\.1$/.test(name)))
      return 'musl';
  }
  const dirs = [...LIBRARY_DIRS];
  for (const dir of ['/lib', '/usr/lib']) {
    for (const name of attempt(() => listTreeDir(tree, dir), [])) {
      if (/-linux-gnu/.test(name)) dirs.push(`${dir}/${name}`);
    }
  }
  for (const dir of dirs) {
    for (const name of LIBCRYPT_NAMES) {
      const bytes = attempt(() => readTreeFile(tree, `${dir}/${name}`, MAX_LIBRARY_BYTES), null);
      if (bytes === null) continue;
      return YESCRYPT_MARKERS.some((marker) => bytes.includes(marker))
        ? 'libxcrypt-yescrypt'
        : 'libcrypt-no-yescrypt';
    }
  }
  return 'unknown';
}

const SCHEME_NAMES: Record<RequestedScheme, string> = {
  yescrypt: 'yescrypt',
  'gost-yescrypt': 'gost-yescrypt',
  sha512crypt: 'SHA-512',
  sha256crypt: 'SHA-256',
  bcrypt: 'bcrypt',
  md5crypt: 'MD5',
  descrypt: 'DES',
  bigcrypt: 'bigcrypt',
};

export const schemeName = (scheme: RequestedScheme | HashScheme): string =>
  (SCHEME_NAMES as Record<string, string>)[scheme] ?? scheme;

/** Costs within what each scheme accepts (libxcrypt would refuse the others). */
function clampCost(scheme: WritableScheme, cost: number | null): number | null {
  if (cost === null) return null;
  switch (scheme) {
    case 'yescrypt':
    case 'gost-yescrypt':
      return Math.min(11, Math.max(1, cost));
    case 'bcrypt':
      return Math.min(31, Math.max(4, cost));
    default:
      return Math.min(999_999_999, Math.max(1000, cost));
  }
}

/** The schemes of the hashes already in shadow (a guest that boots can read them all). */
function schemesInShadow(tree: TreeReader, warnings: string[]): Set<HashScheme> {
  const schemes = new Set<HashScheme>();
  let bytes: Buffer | null = null;
  try {
    bytes = readTreeFile(tree, '/etc/shadow', MAX_ACCOUNT_FILE_BYTES);
  } catch (error) {
    if (!(error instanceof TreeError)) throw error;
    warnings.push(error.message);
  }
  if (bytes === null) return schemes;
  for (const line of parseShadow(bytes).lines) {
    if (line.kind !== 'entry') continue;
    const state = passwordState(line.entry.passwordField);
    if (state.state === 'set' || (state.state === 'locked' && state.scheme)) schemes.add(state.scheme!);
  }
  return schemes;
}

/** Decide the scheme and cost for a new password in this guest. */
export function chooseHashPolicy(tree: TreeReader, warnings: string[] = []): HashPolicy {
  const guestCrypt = detectGuestCrypt(tree, warnings);
  const loginDefsText = readText(tree, '/etc/login.defs', warnings);
  const defs = loginDefsText === null ? {} : parseLoginDefs(loginDefsText);
  const pam = pamRequest(tree, warnings);
  // pam_unix without rounds= takes the cost from login.defs.
  const request = pam
    ? { ...pam, cost: pam.cost ?? loginDefsCost(defs, pam.scheme) }
    : loginDefsRequest(defs);
  const notes: string[] = [];
  const noYescrypt = guestCrypt === 'musl' || guestCrypt === 'libcrypt-no-yescrypt';
  const cryptText: Record<GuestCrypt, string> = {
    musl: "the guest's crypt is musl's",
    'libcrypt-no-yescrypt': "the guest's libcrypt has no yescrypt",
    'libxcrypt-yescrypt': "the guest's libxcrypt has yescrypt",
    unknown: "the guest's crypt library was not found",
  };

  if (request) {
    const { scheme, reason } = request;
    if (scheme === 'md5crypt' || scheme === 'descrypt' || scheme === 'bigcrypt') {
      notes.push(
        `${reason} asks for ${schemeName(scheme)}, which is long broken: SHA-512 is used instead (every crypt that reads ${schemeName(scheme)} reads SHA-512)`,
      );
      return { scheme: 'sha512crypt', cost: null, reason, guestCrypt, notes };
    }
    if ((scheme === 'yescrypt' || scheme === 'gost-yescrypt') && noYescrypt) {
      notes.push(
        `${reason} asks for ${schemeName(scheme)}, but ${cryptText[guestCrypt]}: SHA-512 is used instead`,
      );
      return { scheme: 'sha512crypt', cost: null, reason, guestCrypt, notes };
    }
    if (scheme === 'bcrypt' && guestCrypt === 'libcrypt-no-yescrypt') {
      notes.push(
        `${reason} asks for bcrypt, but ${cryptText[guestCrypt]} and may lack bcrypt too: SHA-512 is used instead`,
      );
      return { scheme: 'sha512crypt', cost: null, reason, guestCrypt, notes };
    }
    return { scheme, cost: clampCost(scheme, request.cost), reason, guestCrypt, notes };
  }

  const existing = schemesInShadow(tree, warnings);
  if (existing.has('yescrypt') && !noYescrypt) {
    return {
      scheme: 'yescrypt',
      cost: null,
      reason: '/etc/shadow already holds yescrypt hashes',
      guestCrypt,
      notes,
    };
  }
  if (guestCrypt === 'libxcrypt-yescrypt') {
    return { scheme: 'yescrypt', cost: null, reason: cryptText[guestCrypt], guestCrypt, notes };
  }
  const why = existing.has('sha512crypt')
    ? '/etc/shadow already holds SHA-512 hashes'
    : noYescrypt
      ? cryptText[guestCrypt]
      : 'no PAM or login.defs setting and no yescrypt library found: SHA-512 is read everywhere';
  return { scheme: 'sha512crypt', cost: null, reason: why, guestCrypt, notes };
}
