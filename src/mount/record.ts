/**
 * What one `kpartx-tui mount` made, so that `kpartx-tui umount` takes back exactly that: the
 * mountpoint, the maps it created (not those it found) and the image loop it attached (not one it
 * found), on its source and on each other source it used (`--with`). Kept as JSON under `<run dir>/mounts/`, where nothing is followed: the directory is made
 * or accepted as run-dir.ts does, each record is opened with O_NOFOLLOW and must be a plain file of
 * ours with one link.
 */
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendKind } from '../engine/backend.js';
import type { LvDevice } from '../engine/workflow/lv-run.js';
import type { Overlay } from '../engine/workflow/overlay.js';
import { ensureRunSubdir, openOwnFile } from '../kernel/run-dir.js';

/**
 * Another source a mount used (`kpartx-tui mount A:VG/LV --with B`: B holds some of the VG's PVs):
 * the maps and the loop the mount made on it, taken back by umount with the main source's.
 */
export interface SourceRecord {
  source: string;
  sourcePath: string;
  parent: string;
  maps: { number: number; name: string; path: string }[];
  loop: { path: string; file: string } | null;
}

export interface MountRecord {
  /** The operand as given, and the image file or block device it resolved to. */
  source: string;
  sourcePath: string;
  /** The parent device the maps are on (an image's loop, or the block device). */
  parent: string;
  partition: number;
  mountpoint: string;
  /** The mounted map's device path. */
  device: string;
  fstype: string;
  readOnly: boolean;
  /** The map was writable and was made read-only for this mount: umount makes it writable again. */
  restoreWritable: boolean;
  backend: BackendKind;
  /** Maps this mount created: the umount removes these and no other. */
  maps: { number: number; name: string; path: string }[];
  /** The image loop this mount attached, if it did: the umount releases it. */
  loop: { path: string; file: string } | null;
  /** `--with`: the other sources holding PVs of the LV's VG, in the order given. */
  with?: SourceRecord[];
  /** For `SOURCE:VG/LV`: the LV map this mount made (umount removes it before the partition maps). */
  lv?: LvDevice;
  /** The LUKS mapping this mount opened on the partition map (umount closes it before the maps go). */
  luks?: { name: string; kernelName: string; path: string };
  /**
   * Overlay mode: the qcow2 overlay the maps are on (through nbd; `sourcePath` names it) and the
   * image under it, which umount commits into, discards or keeps.
   */
  overlay?: Overlay;
}

const SUBDIR = 'mounts';

const recordName = (mountpoint: string): string =>
  `${createHash('sha256').update(mountpoint).digest('hex').slice(0, 24)}.json`;

const recordsDir = (): string => ensureRunSubdir(SUBDIR, 0o700);

export function writeRecord(record: MountRecord): string {
  const path = join(recordsDir(), recordName(record.mountpoint));
  const fd = openOwnFile(path);
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(record, null, 2)}\n`, 0);
  } finally {
    closeSync(fd);
  }
  return path;
}

export function removeRecord(mountpoint: string): void {
  try {
    unlinkSync(join(recordsDir(), recordName(mountpoint)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function readRecord(path: string): MountRecord | undefined {
  const fd = openOwnFile(path);
  try {
    const parsed = JSON.parse(readFileSync(fd, 'utf8')) as MountRecord;
    return typeof parsed.mountpoint === 'string' && Array.isArray(parsed.maps) ? parsed : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Every record there is (a record that cannot be read is skipped). */
export function listRecords(): MountRecord[] {
  const dir = recordsDir();
  return readdirSync(dir)
    .filter((name) => /^[0-9a-f]{24}\.json$/.test(name))
    .flatMap((name) => readRecord(join(dir, name)) ?? []);
}
