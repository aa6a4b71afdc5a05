/**
 * LUKS through the host's cryptsetup (Debian/Ubuntu package cryptsetup-bin): reading LUKS1/2
 * keyslots (PBKDF2, Argon2, AF splitting) is cryptsetup's job, dm-crypt's table is its output.
 * The passphrase goes to cryptsetup on a pipe as `--key-file -` (exact bytes, no newline
 * processing), never on its command line or in its environment.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { lazyBuiltin } from '../io/builtin.js';
import { type CryptApi, CryptError, type LuksKey } from './types.js';

// Loaded when a tool is first run: the CLI's listing loads this module too, and child_process pulls
// in Node's streams and sockets.
const childProcess = lazyBuiltin<typeof import('node:child_process')>('node:child_process');

const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** The cryptsetup executable: on PATH or in the sbin directories a non-root PATH may lack. */
export function findCryptsetup(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...path.split(delimiter).filter(Boolean), ...SYSTEM_DIRS]) {
    const candidate = join(dir, 'cryptsetup');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** cryptsetup's own words: its last non-empty stderr line (the reason, not the progress). */
export function cryptsetupReason(stderr: string, status: number): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.at(-1) ?? `cryptsetup exited with status ${status}`;
}

function runCryptsetup(binary: string, args: string[], input: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(binary, args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < 65536) stderr += chunk;
    });
    child.on('error', (error) => reject(new CryptError(`cannot run ${binary}: ${error.message}`, 127)));
    child.on('close', (status, signal) => {
      if (status === 0) resolve();
      else
        reject(
          new CryptError(
            signal ? `cryptsetup was stopped by ${signal}` : cryptsetupReason(stderr, status ?? -1),
            status ?? 128,
          ),
        );
    });
    if (input !== undefined) {
      child.stdin!.on('error', () => {}); // cryptsetup may exit before reading it all
      child.stdin!.end(input);
    }
  });
}

export function createCryptApi(find: () => string | undefined = findCryptsetup): CryptApi {
  const binary = (): string => {
    const found = find();
    if (!found) throw new CryptError(MISSING, 127);
    return found;
  };
  return {
    missing: () => (find() ? undefined : MISSING),
    open: (device: string, name: string, key: LuksKey, options: { readOnly: boolean }) =>
      runCryptsetup(
        binary(),
        [
          'open',
          '--type',
          'luks',
          ...(options.readOnly ? ['--readonly'] : []),
          '--key-file',
          'keyFile' in key ? key.keyFile : '-',
          device,
          name,
        ],
        'passphrase' in key ? key.passphrase : undefined,
      ),
    close: (name: string) => runCryptsetup(binary(), ['close', name], undefined),
  };
}

export const MISSING =
  'cryptsetup is not installed; LUKS is opened with it (Debian/Ubuntu package cryptsetup-bin)';
