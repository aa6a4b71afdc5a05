/**
 * The host's libxcrypt, bound with koffi: the only code that calls libcrypt. crypt_gensalt_rn makes
 * a setting with fresh salt from the kernel's random source; crypt_rn hashes. Both are the
 * reentrant forms that report failure with NULL and errno rather than a magic string. The library
 * is loaded on first use; a host without it gets null and the caller falls back.
 */
import { createRequire } from 'node:module';
import { errnoCode, strerror } from '../io/errno.js';
import { type CryptLibrary, KernelError } from './types.js';

/** Sizes from libxcrypt's crypt.h. */
const CRYPT_GENSALT_OUTPUT_SIZE = 192;
const CRYPT_DATA_SIZE = 32768;
const CRYPT_MAX_PASSPHRASE_SIZE = 512;

/** libxcrypt's soname on Debian-style hosts (with the glibc-compatible interface), and on Fedora-style ones. */
export const LIBCRYPT_NAMES = ['libcrypt.so.1', 'libcrypt.so.2'];

type Gensalt = (
  prefix: string,
  count: number,
  rbytes: null,
  nrbytes: number,
  output: Buffer,
  size: number,
) => string | null;
type CryptRn = (phrase: Buffer, setting: string, data: Buffer, size: number) => string | null;

const ERANGE = 34;

const opened = new Map<string, CryptLibrary | null>();

/** Load libcrypt from the host, trying each soname in turn (once per list); null when none loads. */
export function openHostCrypt(names: readonly string[] = LIBCRYPT_NAMES): CryptLibrary | null {
  const key = names.join('\0');
  if (!opened.has(key)) opened.set(key, loadCrypt(names));
  return opened.get(key)!;
}

function loadCrypt(names: readonly string[]): CryptLibrary | null {
  let koffi: typeof import('koffi');
  try {
    koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  } catch {
    return null;
  }
  for (const name of names) {
    let lib: ReturnType<typeof koffi.load>;
    try {
      lib = koffi.load(name);
    } catch {
      continue;
    }
    const gensaltRn = lib.func(
      'const char *crypt_gensalt_rn(const char *prefix, unsigned long count, const char *rbytes, int nrbytes, void *output, int output_size)',
    ) as Gensalt;
    const cryptRn = lib.func(
      'const char *crypt_rn(const void *phrase, const char *setting, void *data, int size)',
    ) as CryptRn;
    const fail = (op: string, errno: number): KernelError =>
      new KernelError(op, name, errno, errnoCode(errno), `${name}: ${op} failed: ${strerror(errno)}`);
    return {
      name,
      gensalt(prefix: string, count: number): string {
        const output = Buffer.alloc(CRYPT_GENSALT_OUTPUT_SIZE);
        // rbytes NULL: libxcrypt takes the salt from getrandom(2) itself.
        const setting = gensaltRn(prefix, count, null, 0, output, output.length);
        if (setting === null) throw fail(`crypt_gensalt ${prefix}`, koffi.errno());
        return setting;
      },
      crypt(phrase: string, setting: string): string {
        const bytes = Buffer.from(phrase, 'utf8');
        if (bytes.length >= CRYPT_MAX_PASSPHRASE_SIZE) throw fail('crypt', ERANGE);
        // The phrase goes in as NUL-terminated bytes, and the scratch area is wiped afterwards.
        const input = Buffer.concat([bytes, Buffer.alloc(1)]);
        const data = Buffer.alloc(CRYPT_DATA_SIZE);
        try {
          const hash = cryptRn(input, setting, data, data.length);
          if (hash === null) throw fail('crypt', koffi.errno());
          return hash;
        } finally {
          input.fill(0);
          data.fill(0);
        }
      },
    };
  }
  return null;
}
