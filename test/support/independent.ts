/**
 * Checks by tools other than kpartx-tui: Python's os module for extended attributes and its crypt
 * module (a separate binding of the host's libxcrypt) for hashes, OpenSSL for SHA-512 crypt.
 * Python starts slowly here, so each helper takes a batch in one process.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function python<T>(script: string, input: unknown): T {
  const output = execFileSync(PYTHON, ['-W', 'ignore', '-c', script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
  });
  return JSON.parse(output) as T;
}

/** Extended attributes of each path (not following links): name → hex value. */
export function pythonXattrs(paths: string[]): Record<string, string>[] {
  return python(
    'import os,sys,json\n' +
      'print(json.dumps([{n: os.getxattr(p, n, follow_symlinks=False).hex() for n in sorted(os.listxattr(p, follow_symlinks=False))} for p in json.load(sys.stdin)]))',
    paths,
  );
}

/** Set `name` to `value` plus a NUL (as SELinux stores its labels). */
export function pythonSetXattr(path: string, name: string, value: string): void {
  python(
    'import os,sys,json\nr=json.load(sys.stdin)\nos.setxattr(r[0], r[1], r[2].encode() + b"\\0")\nprint("null")',
    [path, name, value],
  );
}

/** crypt(3) through Python for each [password, setting] pair. */
export function pythonCrypt(pairs: [string, string][]): string[] {
  return python(
    'import crypt,sys,json\nprint(json.dumps([crypt.crypt(p, s) for p, s in json.load(sys.stdin)]))',
    pairs,
  );
}

/** OpenSSL's SHA-512 crypt of `password` with the salt of `hash` (default rounds only). */
export function opensslSha512(password: string, hash: string): string {
  const salt = hash.split('$')[2]!;
  return execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], {
    input: password,
    encoding: 'utf8',
  }).trim();
}

/** Whether each [password, hash] matches, by OpenSSL for plain SHA-512, else Python's crypt. */
export function independentlyVerify(pairs: [string, string][]): boolean[] {
  const viaPython = pairs.filter(([, hash]) => !(hash.startsWith('$6$') && !hash.startsWith('$6$rounds=')));
  const pythonResults = viaPython.length > 0 ? pythonCrypt(viaPython) : [];
  let next = 0;
  return pairs.map(([password, hash]) =>
    hash.startsWith('$6$') && !hash.startsWith('$6$rounds=')
      ? opensslSha512(password, hash) === hash
      : pythonResults[next++] === hash,
  );
}

/** The host's libxcrypt as a file, to stand for a guest's (Debian and Fedora layouts). */
export const HOST_LIBXCRYPT: Buffer | null = (() => {
  for (const path of [
    '/lib/x86_64-linux-gnu/libcrypt.so.1',
    '/usr/lib/x86_64-linux-gnu/libcrypt.so.1',
    '/lib/aarch64-linux-gnu/libcrypt.so.1',
    '/usr/lib64/libcrypt.so.2',
    '/usr/lib64/libcrypt.so.1',
  ]) {
    if (existsSync(path)) return readFileSync(path);
  }
  return null;
})();

/** Python 3.13 dropped the crypt module; without it yescrypt has no independent check here. */
export const HAS_PYTHON_CRYPT: boolean = (() => {
  try {
    execFileSync(PYTHON, ['-W', 'ignore', '-c', 'import crypt'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
