/**
 * nbd devices driven by the real `qemu-nbd` (package qemu-utils): a VM disk container is connected
 * on a free /dev/nbdN, and disconnected again. qemu-nbd has no name field like a loop's, so each
 * connection kpartx-tui makes is recorded in `<run dir>/nbd/nbdN` (device, image, qemu-nbd's pid as
 * the kernel shows it): a connection is ours only while that record names the same device and the
 * pid the kernel reports now, so a connection someone else made on the same device is never ours.
 * Records are opened without following symlinks (run-dir.ts). qemu-nbd is run with execFile (no
 * shell), with the format always given, so a raw file is never probed by qemu.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { lazyBuiltin } from '../io/builtin.js';
import { acquireLock } from './lock.js';
import { findTool } from './qemu-img.js';
import { ensureRunSubdir, entryProblem, openOwnFile, runDir } from './run-dir.js';
import { readAttribute } from './sysfs.js';
import type { NbdConnection } from './types.js';

// Loaded when a tool is first run: the CLI's listing loads this module too, and child_process pulls
// in Node's streams and sockets.
const childProcess = lazyBuiltin<typeof import('node:child_process')>('node:child_process');

/** Whether this kernel has the network block device qemu-nbd attaches containers to (loaded or with nodes). */
export function nbdPresent(): boolean {
  return existsSync('/sys/module/nbd') || existsSync('/dev/nbd0');
}

interface NbdRecord {
  device: string;
  file: string;
  pid: number;
  format: string;
  readOnly: boolean;
}

const RECORD_DIR = 'nbd';
const WAIT_MS = 10_000;

/** Where `qemu-nbd` is on PATH; an Error naming the package when it is not there. */
export const findQemuNbd = (): string => findTool('qemu-nbd', 'qemu-utils');

/** nbd device indexes present in /sys/block, lowest first. */
function nbdIndexes(): number[] {
  let names: string[];
  try {
    names = readdirSync('/sys/block');
  } catch {
    return [];
  }
  return names
    .map((name) => /^nbd(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** The pid the kernel shows for a connected device; undefined when it is free. */
const kernelPid = (index: number): number | undefined => {
  const text = readAttribute(`/sys/block/nbd${index}/pid`)?.trim();
  return text && /^\d+$/.test(text) ? Number(text) : undefined;
};

const recordPath = (index: number): string => join(runDir(), RECORD_DIR, `nbd${index}`);

/** Our record of `nbdN`, read without following a symlink and only from a file we own. */
function readRecord(index: number): NbdRecord | undefined {
  let fd: number;
  try {
    fd = openSync(recordPath(index), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (entryProblem(fstatSync(fd), 'file')) return undefined;
    const parsed = JSON.parse(readFileSync(fd, 'utf8')) as Partial<NbdRecord>;
    if (
      typeof parsed.device !== 'string' ||
      typeof parsed.file !== 'string' ||
      typeof parsed.pid !== 'number'
    )
      return undefined;
    return parsed as NbdRecord;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function writeRecord(index: number, record: NbdRecord): void {
  ensureRunSubdir(RECORD_DIR, 0o700);
  const fd = openOwnFile(recordPath(index));
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(record)}\n`, 0);
  } finally {
    closeSync(fd);
  }
}

function dropRecord(index: number): void {
  try {
    unlinkSync(recordPath(index));
  } catch {
    // none
  }
}

function connectionOf(index: number): NbdConnection | undefined {
  const pid = kernelPid(index);
  if (pid === undefined) return undefined;
  const path = `/dev/nbd${index}`;
  const record = readRecord(index);
  const ours = record !== undefined && record.device === path && record.pid === pid;
  return {
    path,
    index,
    pid,
    ...(ours ? { file: record.file } : {}),
    ours,
    readOnly: readAttribute(`/sys/block/nbd${index}/ro`)?.trim() === '1',
  };
}

function run(tool: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    childProcess().execFile(tool, args, { timeout: 60_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const said = String(stderr).trim().split('\n').filter(Boolean).pop();
      reject(new Error(`${tool} ${args.join(' ')}: ${said ?? error.message}`));
    });
  });
}

/** Poll `check` until it is true or `ms` passed; whether it became true. */
async function waitFor(check: () => boolean, ms = WAIT_MS): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

export function createNbdApi() {
  let loaded: boolean | undefined;
  return {
    available(): boolean {
      if (loaded) return true;
      if (!nbdPresent()) childProcess().spawnSync('modprobe', ['nbd'], { stdio: 'ignore', timeout: 10_000 });
      loaded = nbdPresent() && nbdIndexes().length > 0;
      return loaded;
    },
    list(): NbdConnection[] {
      return nbdIndexes()
        .map(connectionOf)
        .filter((c): c is NbdConnection => c !== undefined);
    },
    async connect(file: string, options: { format: string; readOnly: boolean }): Promise<NbdConnection> {
      const tool = findQemuNbd();
      // One connect at a time picks a device, so two runs never take the same free one.
      const lock = acquireLock('nbd-connect', 'nbd');
      try {
        const index = nbdIndexes().find((i) => kernelPid(i) === undefined);
        if (index === undefined) throw new Error('no free nbd device (every /dev/nbdN is connected)');
        const path = `/dev/nbd${index}`;
        const args = [`--connect=${path}`, `--format=${options.format}`];
        if (options.readOnly) args.push('--read-only');
        await run(tool, [...args, file]);
        await waitFor(() => kernelPid(index) !== undefined);
        const pid = kernelPid(index);
        if (pid === undefined) {
          await run(tool, ['--disconnect', path]).catch(() => {});
          throw new Error(`${path}: qemu-nbd returned but the device is not connected`);
        }
        try {
          writeRecord(index, { device: path, file, pid, format: options.format, readOnly: options.readOnly });
        } catch (error) {
          await run(tool, ['--disconnect', path]).catch(() => {});
          throw error;
        }
        // The size is set once the export is negotiated: wait for it before reading the table.
        await waitFor(() => Number(readAttribute(`/sys/block/nbd${index}/size`) ?? 0) > 0, 5_000);
        return { path, index, pid, file, ours: true, readOnly: options.readOnly };
      } finally {
        lock.release();
      }
    },
    async disconnect(path: string): Promise<void> {
      const index = Number(/^\/dev\/nbd(\d+)$/.exec(path)?.[1] ?? Number.NaN);
      if (!Number.isInteger(index)) throw new Error(`${path}: not an nbd device`);
      await run(findQemuNbd(), ['--disconnect', path]);
      if (!(await waitFor(() => kernelPid(index) === undefined))) {
        throw new Error(`${path}: still connected after qemu-nbd --disconnect`);
      }
      dropRecord(index);
    },
  };
}
