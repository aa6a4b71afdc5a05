/** Shared by the probe tests: real images on disk, `blkid -p` as the reference, read accounting. */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Disk } from '../src/io/disk.js';

/** True when `name` is on PATH (or given as an absolute path that exists). */
export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface FileDisk extends Disk {
  /** Bytes handed out so far; lets tests check that probing stays within a few sectors. */
  bytesRead: number;
  /** Every [offset, length] asked for. */
  reads: Array<[number, number]>;
  close(): void;
}

/** A Disk over an image file, read with pread-like calls (images may be large and sparse). */
export function fileDisk(path: string): FileDisk {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  const disk: FileDisk = {
    sectorSize: 512,
    size,
    bytesRead: 0,
    reads: [],
    readAt(offset, length) {
      disk.reads.push([offset, length]);
      if (offset < 0 || offset >= size) return new Uint8Array(0);
      const buf = new Uint8Array(Math.min(length, size - offset));
      const got = readSync(fd, buf, 0, buf.length, offset);
      disk.bytesRead += got;
      return buf.subarray(0, got);
    },
    close() {
      closeSync(fd);
    },
  };
  return disk;
}

/** A Disk over bytes, counting reads. */
export function countingDisk(inner: Disk): Disk & { bytesRead: number } {
  const disk = {
    sectorSize: inner.sectorSize,
    size: inner.size,
    bytesRead: 0,
    readAt(offset: number, length: number) {
      const b = inner.readAt(offset, length);
      disk.bytesRead += b.length;
      return b;
    },
  };
  return disk;
}

/** Undo udev's `\xHH` escaping (ID_FS_LABEL_ENC) into the raw bytes. */
export function unescapeUdev(value: string): Uint8Array {
  const out: number[] = [];
  const raw = Buffer.from(value, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && raw[i + 1] === 0x78 && i + 3 < raw.length + 1) {
      const hex = raw.subarray(i + 2, i + 4).toString('latin1');
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        out.push(Number.parseInt(hex, 16));
        i += 3;
        continue;
      }
    }
    out.push(raw[i]!);
  }
  return Uint8Array.from(out);
}

/** Parse `KEY=value` lines (blkid -o udev, or the corpus expected files). */
export function parseUdev(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) result[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return result;
}

export interface BlkidView {
  type?: string;
  label?: Uint8Array;
  uuid?: string;
  uuidSub?: string;
  version?: string;
}

/** The fields we compare, from udev-style output. LABEL comes from the escaped form, as raw bytes. */
export function blkidView(fields: Record<string, string>): BlkidView {
  const view: BlkidView = {};
  if (fields.ID_FS_TYPE) view.type = fields.ID_FS_TYPE;
  if (fields.ID_FS_LABEL_ENC !== undefined) view.label = unescapeUdev(fields.ID_FS_LABEL_ENC);
  if (fields.ID_FS_UUID_ENC !== undefined)
    view.uuid = Buffer.from(unescapeUdev(fields.ID_FS_UUID_ENC)).toString();
  if (fields.ID_FS_UUID_SUB_ENC !== undefined)
    view.uuidSub = Buffer.from(unescapeUdev(fields.ID_FS_UUID_SUB_ENC)).toString();
  if (fields.ID_FS_VERSION !== undefined)
    view.version = Buffer.from(unescapeUdev(fields.ID_FS_VERSION)).toString();
  return view;
}

/** `blkid -p -o udev` on an image (optionally at a byte offset), parsed. */
export function blkidProbe(path: string, offset = 0): BlkidView {
  const args = ['-p', '-o', 'udev'];
  if (offset) args.push('-O', String(offset));
  const r = spawnSync('blkid', [...args, path], { encoding: 'utf8' });
  return blkidView(parseUdev(r.stdout ?? ''));
}

/** The root (uid 0) with /dev/loop-control: what loop-device tests need. */
export const canUseLoop = process.getuid?.() === 0 && existsSync('/dev/loop-control') && haveTool('losetup');
