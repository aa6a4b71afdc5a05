/** Loading xz-compressed test images and the C kpartx outputs recorded next to them. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const LABELS_DIR = join(REPO, 'fixtures', 'labels');
export const CORPUS_PT_DIR = join(REPO, '..', 'shared', 'corpus', 'blkid', 'pt');
export const CORPUS_EXPECTED_DIR = join(REPO, '..', 'shared', 'corpus', 'blkid', 'expected');

const cache = new Map<string, Uint8Array>();
/**
 * Decompressed copies shared by the test workers of one run, keyed by the compressed file's hash:
 * in the run's own directory (test/support/run-dir.ts), which goes with the run. Elsewhere (the
 * guest's suite) nothing is kept on disk.
 */
const RUN_DIR = process.env.KPARTX_TUI_RUN_DIR;
const DISK_CACHE = RUN_DIR ? join(dirname(RUN_DIR), 'images') : undefined;

function decompress(path: string): Uint8Array {
  if (!DISK_CACHE) return execFileSync('xz', ['-dc', path], { maxBuffer: 256 * 1024 * 1024 });
  const compressed = readFileSync(path);
  const cached = join(DISK_CACHE, `${createHash('sha256').update(compressed).digest('hex')}.img`);
  if (existsSync(cached)) return readFileSync(cached);
  const out = execFileSync('xz', ['-dc', path], { maxBuffer: 256 * 1024 * 1024 });
  mkdirSync(DISK_CACHE, { recursive: true });
  // Written under a private name first, so a concurrent reader never sees half a file.
  const partial = `${cached}.${process.pid}`;
  writeFileSync(partial, out);
  renameSync(partial, cached);
  return out;
}

/** The decompressed bytes of an `.img.xz` file (cached: callers must not modify them). */
export function loadXzImage(path: string): Uint8Array {
  let bytes = cache.get(path);
  if (!bytes) {
    const out = decompress(path);
    bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    cache.set(path, bytes);
  }
  return bytes;
}

/** Names (without `.img.xz`) of the images in a folder; empty when the folder is absent. */
export function imageNames(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.img.xz'))
    .map((f) => f.slice(0, -'.img.xz'.length))
    .sort();
}

export interface RecordedListing {
  /** `-l` stdout lines, loop name replaced by LOOP. */
  stdout: string[];
  exit: number;
  /** stderr lines without the libdevmapper noise (only where it was recorded). */
  stderr: string[];
}

/** A `NAME.kpartx-l` file (stdout lines then `exit=N`) and its optional `.stderr` companion. */
export function readRecordedListing(path: string): RecordedListing {
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  const last = lines.pop() ?? '';
  const match = /^exit=(\d+)$/.exec(last);
  if (!match) throw new Error(`${path}: last line is not exit=N`);
  const stderrPath = `${path}.stderr`;
  const stderr = existsSync(stderrPath) ? readFileSync(stderrPath, 'utf8').split('\n').filter(Boolean) : [];
  return { stdout: lines, exit: Number(match[1]), stderr };
}
