/**
 * One exclusive lock per parent device, so two runs never map or unmap the same device at once.
 * flock(2) on a file under /run: the kernel drops it when the process dies, so a killed run never
 * leaves a stale lock behind. The holder removes the file when it releases the lock, so opened
 * images leave no files behind; a taker therefore checks, once it holds the lock, that its file is
 * still the one at the path (flock, then compare inodes) and starts over on the new file if not.
 */
import { closeSync, fstatSync, statSync, unlinkSync } from 'node:fs';
import { flock, LOCK_EX, LOCK_NB } from './libc.js';
import { sleepSync } from './loop.js';
import { ensureOwnDir, ensureRunSubdir, openOwnFile, RunDirError } from './run-dir.js';
import { KernelError } from './types.js';

/** Lock files live in `<run dir>/locks` (see run-dir.ts). */
export const LOCK_SUBDIR = 'locks';
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/**
 * A key naming what is locked: the image file (device and inode) when there is one, because two
 * runs on the same image would otherwise each attach their own loop; else the device number.
 */
export function lockKey(parent: {
  devno: { major: number; minor: number };
  image?: { file: string };
}): string {
  if (parent.image) {
    try {
      const st = statSync(parent.image.file, { bigint: true });
      return `file-${st.dev}-${st.ino}`;
    } catch {
      // fall through to the device number
    }
  }
  return `dev-${parent.devno.major}-${parent.devno.minor}`;
}

export interface HeldLock {
  release(): void;
}

interface LockFile {
  fd: number;
  path: string;
  deadline: number;
}

/** Why a lock could not even be opened, for `device`: what failed, and that changing maps needs root. */
export class LockError extends Error {
  constructor(device: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    const denied = cause instanceof RunDirError && (cause.code === 'EACCES' || cause.code === 'EPERM');
    const notRoot = denied && process.geteuid?.() !== 0 ? ' (changing maps needs root)' : '';
    super(`${device}: cannot take the lock on its maps: ${why}${notRoot}`);
    this.name = 'LockError';
  }
}

function openLockFile(key: string, waitMs: number, device: string, dir: string | undefined): LockFile {
  try {
    if (dir === undefined) dir = ensureRunSubdir(LOCK_SUBDIR, 0o700);
    else ensureOwnDir(dir, 0o700);
    const path = `${dir}/${key.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`;
    return { fd: openOwnFile(path), path, deadline: Date.now() + waitMs };
  } catch (error) {
    throw new LockError(device, error);
  }
}

/** Whether the locked descriptor is still the file at the path (a releaser may have unlinked it). */
function stillAtPath(lock: LockFile): boolean {
  try {
    const open = fstatSync(lock.fd, { bigint: true });
    const named = statSync(lock.path, { bigint: true });
    return open.dev === named.dev && open.ino === named.ino;
  } catch {
    return false;
  }
}

/** Open the path afresh after the file we locked was removed by the run that held it. */
function reopen(lock: LockFile, device: string): void {
  closeSync(lock.fd);
  try {
    lock.fd = openOwnFile(lock.path);
  } catch (error) {
    throw new LockError(device, error);
  }
}

/** One non-blocking attempt: true when taken, false while another run holds it and time is left. */
function attempt(lock: LockFile, device: string, waitMs: number): boolean {
  try {
    flock(lock.fd, LOCK_EX | LOCK_NB, lock.path);
  } catch (error) {
    const busy = error instanceof KernelError && (error.code === 'EAGAIN' || error.code === 'EWOULDBLOCK');
    if (busy && Date.now() < lock.deadline) return false;
    closeSync(lock.fd);
    if (!busy) throw error;
    throw new KernelError(
      'flock',
      device,
      11,
      'EAGAIN',
      `${device}: another kpartx run is changing this device's maps (lock ${lock.path}); gave up after ${Math.round(waitMs / 1000)} s`,
    );
  }
  if (stillAtPath(lock)) return true;
  // Taken on a file its last holder already unlinked: a run opening the path now would get a new
  // file and a second, independent lock. Start over on the file that is there.
  reopen(lock, device);
  return attempt(lock, device, waitMs);
}

/**
 * Released by unlinking the file while still holding it, then closing: nobody else can hold it at
 * that moment, and a run waiting on the unlinked file sees the inode change and starts over.
 */
function held(lock: LockFile): HeldLock {
  let open = true;
  return {
    release: () => {
      if (!open) return;
      open = false;
      try {
        unlinkSync(lock.path);
      } catch {
        // already gone or not ours to remove: the lock is still released below
      }
      closeSync(lock.fd);
    },
  };
}

const RETRY_MS = 25;

/** Take the lock named `key`, waiting up to `waitMs`; `device` names the device in errors. */
export function acquireLock(
  key: string,
  device: string,
  waitMs = DEFAULT_LOCK_WAIT_MS,
  dir?: string,
): HeldLock {
  const lock = openLockFile(key, waitMs, device, dir);
  while (!attempt(lock, device, waitMs)) sleepSync(RETRY_MS);
  return held(lock);
}

/** acquireLock without blocking the event loop while it waits. */
export async function acquireLockAsync(
  key: string,
  device: string,
  waitMs = DEFAULT_LOCK_WAIT_MS,
  dir?: string,
): Promise<HeldLock> {
  const lock = openLockFile(key, waitMs, device, dir);
  while (!attempt(lock, device, waitMs)) await new Promise((done) => setTimeout(done, RETRY_MS));
  return held(lock);
}

/** Run `work` holding the lock for `key`. */
export async function withLock<T>(
  key: string,
  device: string,
  work: () => Promise<T>,
  waitMs?: number,
): Promise<T> {
  const lock = await acquireLockAsync(key, device, waitMs);
  try {
    return await work();
  } finally {
    lock.release();
  }
}
