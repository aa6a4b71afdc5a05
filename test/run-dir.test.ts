/**
 * Nothing a local user plants under the run directory (/run/kpartx-tui) is followed: a symlink
 * where a lock file, the lock directory or a mountpoint goes, a directory someone else owns, one
 * anyone may write. Each is refused naming the path and the problem, and what it points to stays
 * as it was. The run directory is moved into a scratch directory (KPARTX_TUI_RUN_DIR), so the
 * real /run/kpartx-tui is never touched.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSession } from '../src/engine/session.js';
import { acquireLock } from '../src/kernel/lock.js';
import { createMachine } from '../src/kernel/machine.js';
import { DEFAULT_RUN_DIR, entryProblem, RUN_DIR_ENV, runDir } from '../src/kernel/run-dir.js';
import { FakeMachine } from './support/fake-machine.js';

const isRoot = process.geteuid?.() === 0;
const NOBODY = 65534;

let scratch: string;
let run: string;
let outside: string;
const savedEnv = process.env[RUN_DIR_ENV];

beforeEach(() => {
  scratch = mkdtempSync('/tmp/kpartx-tui-rundir-');
  run = join(scratch, 'run');
  outside = join(scratch, 'outside');
  mkdirSync(outside);
  process.env[RUN_DIR_ENV] = run;
});
afterEach(() => {
  if (savedEnv === undefined) delete process.env[RUN_DIR_ENV];
  else process.env[RUN_DIR_ENV] = savedEnv;
  rmSync(scratch, { recursive: true, force: true });
});

/** A file outside the run directory that a followed symlink would let us open or write. */
function victim(): { path: string; before: { text: string; mode: number; mtimeMs: number } } {
  const path = join(outside, 'victim');
  writeFileSync(path, 'precious\n', { mode: 0o644 });
  const st = statSync(path);
  return { path, before: { text: 'precious\n', mode: st.mode, mtimeMs: st.mtimeMs } };
}

function expectUntouched(v: ReturnType<typeof victim>): void {
  const st = statSync(v.path);
  expect(readFileSync(v.path, 'utf8')).toBe(v.before.text);
  expect(st.mode).toBe(v.before.mode);
  expect(st.mtimeMs).toBe(v.before.mtimeMs);
}

const lock = () => acquireLock('dev-7-9', '/dev/loop9', 0);

describe('the run directory', () => {
  it('is /run/kpartx-tui unless moved to an absolute path', () => {
    expect(runDir({})).toBe(DEFAULT_RUN_DIR);
    expect(runDir({ [RUN_DIR_ENV]: 'relative/dir' })).toBe(DEFAULT_RUN_DIR);
    expect(runDir({ [RUN_DIR_ENV]: '/tmp/x/' })).toBe('/tmp/x');
    expect(createMachine().mounts.defaultRoot()).toBe(join(run, 'mnt'));
  });

  it('names the problem with an entry', () => {
    const facts = (over: Partial<Record<string, unknown>>) => ({
      isDirectory: () => over.dir === true,
      isFile: () => over.file === true,
      isSymbolicLink: () => over.link === true,
      uid: (over.uid as number) ?? 0,
      mode: (over.mode as number) ?? 0o40700,
      nlink: (over.nlink as number) ?? 1,
    });
    expect(entryProblem(facts({ dir: true }), 'directory', 0)).toBeUndefined();
    expect(entryProblem(facts({ link: true }), 'directory', 0)).toBe('it is a symbolic link');
    expect(entryProblem(facts({ file: true }), 'directory', 0)).toBe('it is not a directory');
    expect(entryProblem(facts({ dir: true }), 'file', 0)).toBe('it is not a regular file');
    expect(entryProblem(facts({ dir: true, uid: 1000 }), 'directory', 0)).toBe(
      'it is owned by uid 1000, not by root',
    );
    // An ordinary user trusts root's entries as its own.
    expect(entryProblem(facts({ dir: true, uid: 0 }), 'directory', 1000)).toBeUndefined();
    expect(entryProblem(facts({ dir: true, uid: 1001 }), 'directory', 1000)).toBe(
      'it is owned by uid 1001, not by uid 1000',
    );
    expect(entryProblem(facts({ dir: true, mode: 0o41777 }), 'directory', 0)).toBe(
      'it is writable by group or others (mode 01777)',
    );
    expect(entryProblem(facts({ file: true, mode: 0o100600, nlink: 2 }), 'file', 0)).toBe(
      'it has 2 hard links',
    );
  });

  it('is made with its lock directory on first use: root only, and the lock works', () => {
    const held = lock();
    expect(lstatSync(run).isDirectory()).toBe(true);
    expect(lstatSync(join(run, 'locks')).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(run, 'locks', 'dev-7-9.lock')).isFile()).toBe(true);
    held.release();
    // Released: the file is gone, the directory stays, and the lock is taken again as it is now.
    expect(existsSync(join(run, 'locks', 'dev-7-9.lock'))).toBe(false);
    lock().release();
  });
});

describe('lock files', () => {
  it('refuses a symlink planted where the lock file goes, and leaves its target alone', () => {
    const v = victim();
    mkdirSync(join(run, 'locks'), { recursive: true, mode: 0o700 });
    symlinkSync(v.path, join(run, 'locks', 'dev-7-9.lock'));
    expect(lock).toThrow(
      `/dev/loop9: cannot take the lock on its maps: refusing to use ${run}/locks/dev-7-9.lock: it is a symbolic link (to ${v.path})`,
    );
    expectUntouched(v);
  });

  it('refuses a dangling symlink without creating its target', () => {
    mkdirSync(join(run, 'locks'), { recursive: true, mode: 0o700 });
    const target = join(outside, 'created-through-link');
    symlinkSync(target, join(run, 'locks', 'dev-7-9.lock'));
    expect(lock).toThrow(/it is a symbolic link/);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses a symlink planted as the lock directory or the run directory itself', () => {
    mkdirSync(run, { mode: 0o755 });
    symlinkSync(outside, join(run, 'locks'));
    expect(lock).toThrow(`refusing to use ${run}/locks: it is a symbolic link (to ${outside})`);
    rmSync(run, { recursive: true });
    symlinkSync(outside, run);
    expect(lock).toThrow(`refusing to use ${run}: it is a symbolic link (to ${outside})`);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses a FIFO and a hard link in place of the lock file, without hanging', () => {
    mkdirSync(join(run, 'locks'), { recursive: true, mode: 0o700 });
    execFileSync('mkfifo', [join(run, 'locks', 'dev-7-9.lock')]);
    expect(lock).toThrow(/dev-7-9\.lock: it is not a regular file/);
    rmSync(join(run, 'locks', 'dev-7-9.lock'));
    const v = victim();
    chmodSync(v.path, 0o600);
    v.before.mode = statSync(v.path).mode;
    linkSync(v.path, join(run, 'locks', 'dev-7-9.lock'));
    expect(lock).toThrow(/dev-7-9\.lock: it has 2 hard links/);
    expectUntouched(v);
  });

  it('refuses a lock directory anyone may write', () => {
    mkdirSync(join(run, 'locks'), { recursive: true });
    chmodSync(join(run, 'locks'), 0o777);
    expect(lock).toThrow(`refusing to use ${run}/locks: it is writable by group or others (mode 0777)`);
    expect(readdirSync(join(run, 'locks'))).toEqual([]);
  });

  it.skipIf(!isRoot)('refuses a lock directory or lock file owned by someone else', () => {
    mkdirSync(join(run, 'locks'), { recursive: true, mode: 0o700 });
    chownSync(join(run, 'locks'), NOBODY, NOBODY);
    expect(lock).toThrow(`refusing to use ${run}/locks: it is owned by uid ${NOBODY}, not by root`);
    expect(readdirSync(join(run, 'locks'))).toEqual([]);
    chownSync(join(run, 'locks'), 0, 0);
    writeFileSync(join(run, 'locks', 'dev-7-9.lock'), '', { mode: 0o600 });
    chownSync(join(run, 'locks', 'dev-7-9.lock'), NOBODY, NOBODY);
    expect(lock).toThrow(/dev-7-9\.lock: it is owned by uid 65534, not by root/);
  });
});

describe('mountpoints', () => {
  const kernel = new FakeMachine();
  kernel.addFile('/img/fs.img', new Uint8Array(1 << 20));
  const device = kernel.loop.attach('/img/fs.img', { readOnly: true }).path;
  const mountIt = () =>
    createSession(kernel).mount({ name: 'loop9p1', device, readOnly: true, fstype: 'ext4' });

  it('refuses a symlink planted where the mountpoint goes, and mounts nothing', () => {
    const v = victim();
    mkdirSync(join(run, 'mnt'), { recursive: true, mode: 0o755 });
    symlinkSync(outside, join(run, 'mnt', 'loop9p1'));
    expect(mountIt).toThrow(
      `loop9p1: not mounted: refusing to use ${run}/mnt/loop9p1: it is a symbolic link (to ${outside})`,
    );
    expect(kernel.mounts.list()).toEqual([]);
    expect(readdirSync(outside)).toEqual(['victim']);
    expectUntouched(v);
  });

  it('refuses a file planted where the mountpoint goes', () => {
    mkdirSync(join(run, 'mnt'), { recursive: true, mode: 0o755 });
    writeFileSync(join(run, 'mnt', 'loop9p1'), 'x');
    expect(mountIt).toThrow(`refusing to use ${run}/mnt/loop9p1: it is not a directory`);
    expect(kernel.mounts.list()).toEqual([]);
  });

  it.skipIf(!isRoot)('refuses a mount directory or mountpoint owned by someone else', () => {
    mkdirSync(join(run, 'mnt'), { recursive: true, mode: 0o755 });
    chownSync(join(run, 'mnt'), NOBODY, NOBODY);
    expect(mountIt).toThrow(`refusing to use ${run}/mnt: it is owned by uid ${NOBODY}, not by root`);
    chownSync(join(run, 'mnt'), 0, 0);
    mkdirSync(join(run, 'mnt', 'loop9p1'));
    chownSync(join(run, 'mnt', 'loop9p1'), NOBODY, NOBODY);
    expect(mountIt).toThrow(`refusing to use ${run}/mnt/loop9p1: it is owned by uid ${NOBODY}, not by root`);
    expect(kernel.mounts.list()).toEqual([]);
  });

  it('mounts on a directory of its own, made there or left by an earlier run', () => {
    const session = createSession(kernel);
    const mounted = session.mount({ name: 'loop9p1', device, readOnly: true, fstype: 'ext4' });
    expect(mounted.mountpoint).toBe(join(run, 'mnt', 'loop9p1'));
    session.unmount(mounted.mountpoint);
    expect(existsSync(mounted.mountpoint)).toBe(false);
    mkdirSync(mounted.mountpoint, { mode: 0o755 });
    expect(session.mount({ name: 'loop9p1', device, readOnly: true, fstype: 'ext4' }).mountpoint).toBe(
      mounted.mountpoint,
    );
    session.unmount(mounted.mountpoint);
  });
});
