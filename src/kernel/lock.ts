/**
 * One exclusive lock per parent device, so two runs never map or unmap the same device at once.
 * flock(2) on a file under /run: the kernel drops it when the process dies, so a killed run never
 * leaves a stale lock behind.
 */
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { flock, LOCK_EX, LOCK_NB } from './libc.js';
import { sleepSync } from './loop.js';
import { KernelError } from './types.js';

export const LOCK_DIR = '/run/kpartx-tui/locks';
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

/** Take the lock named `key`, waiting up to `waitMs`; `device` names the device in errors. */
export function acquireLock(
  key: string,
  device: string,
  waitMs = DEFAULT_LOCK_WAIT_MS,
  dir = LOCK_DIR,
): HeldLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${key.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`;
  const fd = openSync(path, 'a', 0o600);
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      flock(fd, LOCK_EX | LOCK_NB, path);
      break;
    } catch (error) {
      const busy = error instanceof KernelError && (error.code === 'EAGAIN' || error.code === 'EWOULDBLOCK');
      if (!busy || Date.now() >= deadline) {
        closeSync(fd);
        if (!busy) throw error;
        throw new KernelError(
          'flock',
          device,
          11,
          'EAGAIN',
          `${device}: another kpartx run is changing this device's maps (lock ${path}); gave up after ${Math.round(waitMs / 1000)} s`,
        );
      }
      sleepSync(25);
    }
  }
  let held = true;
  return {
    release: () => {
      if (held) closeSync(fd);
      held = false;
    },
  };
}

/** Run `fn` holding the lock for `key`. */
export function withLock<T>(key: string, device: string, fn: () => T, waitMs?: number): T {
  const lock = acquireLock(key, device, waitMs);
  try {
    return fn();
  } finally {
    lock.release();
  }
}
