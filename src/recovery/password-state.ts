/**
 * What a password field says about logging in, without ever carrying the hash: set (and in
 * which scheme), locked, no password login, or empty. Also the elided form shown to people.
 */

export type HashScheme =
  | 'yescrypt'
  | 'gost-yescrypt'
  | 'scrypt'
  | 'bcrypt'
  | 'sha512crypt'
  | 'sha256crypt'
  | 'sha1crypt'
  | 'sunmd5'
  | 'md5crypt'
  | 'nthash'
  | 'bsdicrypt'
  | 'bigcrypt'
  | 'descrypt'
  | 'unknown';

export type PasswordState =
  /** A hash a password can match. */
  | { state: 'set'; scheme: HashScheme }
  /** `!` in front (passwd -l, usermod -L): no password login; `scheme` is the hash kept behind it, if any. */
  | { state: 'locked'; scheme: HashScheme | null }
  /** `*`, `x` or anything no hash can match: the account has no password login. */
  | { state: 'no-login' }
  /** Empty: logs in without a password where PAM allows it (nullok). */
  | { state: 'empty' };

const PREFIXES: [string, HashScheme][] = [
  ['$y$', 'yescrypt'],
  ['$gy$', 'gost-yescrypt'],
  ['$7$', 'scrypt'],
  ['$2b$', 'bcrypt'],
  ['$2a$', 'bcrypt'],
  ['$2y$', 'bcrypt'],
  ['$2x$', 'bcrypt'],
  ['$6$', 'sha512crypt'],
  ['$5$', 'sha256crypt'],
  ['$sha1$', 'sha1crypt'],
  ['$md5', 'sunmd5'],
  ['$1$', 'md5crypt'],
  ['$3$', 'nthash'],
];

const CRYPT_CHARS = /^[./0-9A-Za-z]+$/;

/** The scheme of a hash, or null when the text cannot be a crypt(3) hash at all. */
export function hashScheme(hash: string): HashScheme | null {
  for (const [prefix, scheme] of PREFIXES) if (hash.startsWith(prefix)) return scheme;
  if (hash.startsWith('$')) return 'unknown';
  if (hash.length === 20 && hash.startsWith('_') && CRYPT_CHARS.test(hash.slice(1))) return 'bsdicrypt';
  if (hash.length === 13 && CRYPT_CHARS.test(hash)) return 'descrypt';
  if (hash.length > 13 && (hash.length - 13) % 11 === 0 && CRYPT_CHARS.test(hash)) return 'bigcrypt';
  return null;
}

export function passwordState(field: string): PasswordState {
  if (field === '') return { state: 'empty' };
  if (field.startsWith('!')) {
    const behind = field.replace(/^!+/, '');
    return { state: 'locked', scheme: behind === '' ? null : hashScheme(behind) };
  }
  const scheme = hashScheme(field);
  return scheme === null ? { state: 'no-login' } : { state: 'set', scheme };
}

/**
 * The field with its hash (salt included) replaced: `$y$…(elided)`, `!$6$…(elided)`. Fields that
 * hold no secret (empty, `*`, `!`, `!!`) stay as they are.
 */
export function elidePasswordField(field: string): string {
  if (/^[!*]*$/.test(field)) return field;
  const lock = /^!*/.exec(field)![0];
  const rest = field.slice(lock.length);
  const prefix = /^\$[^$]{0,8}\$/.exec(rest)?.[0] ?? '';
  return `${lock}${prefix}…(elided)`;
}
