/**
 * The device-mapper ioctl wire format (linux/dm-ioctl.h, interface version 4), as pure encode and
 * decode functions over Buffers. No system calls here: src/kernel/dm.ts sends what this builds.
 *
 * Every command carries a 312-byte `struct dm_ioctl` head followed by a payload whose meaning
 * depends on the command (target specs, a new name, a device list, …).
 */

import type { DevNo } from '../io/devno.js';
import type { DmTarget } from './types.js';

/** sizeof(struct dm_ioctl); the payload starts here (already 8-aligned). */
export const DM_IOCTL_SIZE = 312;
export const DM_NAME_LEN = 128;
export const DM_UUID_LEN = 129;
export const DM_MAX_TYPE_NAME = 16;
export const DM_TARGET_SPEC_SIZE = 40;
export const DM_VERSION_MAJOR = 4;
/** The oldest minor we need: 4.0 already has every command we use. */
export const DM_VERSION_MINOR = 0;

export const DmCommand = {
  VERSION: 0,
  REMOVE_ALL: 1,
  LIST_DEVICES: 2,
  DEV_CREATE: 3,
  DEV_REMOVE: 4,
  DEV_RENAME: 5,
  DEV_SUSPEND: 6,
  DEV_STATUS: 7,
  DEV_WAIT: 8,
  TABLE_LOAD: 9,
  TABLE_CLEAR: 10,
  TABLE_DEPS: 11,
  TABLE_STATUS: 12,
  LIST_VERSIONS: 13,
} as const;
export type DmCommandName = keyof typeof DmCommand;

/** `_IOWR(0xfd, nr, struct dm_ioctl)`: direction 3, size 312, type 0xfd. */
export const dmRequest = (nr: number): number => ((3 << 30) | (DM_IOCTL_SIZE << 16) | (0xfd << 8) | nr) >>> 0;

export const DmFlag = {
  READONLY: 1 << 0,
  SUSPEND: 1 << 1,
  PERSISTENT_DEV: 1 << 3,
  STATUS_TABLE: 1 << 4,
  ACTIVE_PRESENT: 1 << 5,
  INACTIVE_PRESENT: 1 << 6,
  BUFFER_FULL: 1 << 8,
  SKIP_LOCKFS: 1 << 10,
  NOFLUSH: 1 << 11,
  QUERY_INACTIVE_TABLE: 1 << 12,
  UEVENT_GENERATED: 1 << 13,
  UUID: 1 << 14,
  DEFERRED_REMOVE: 1 << 17,
} as const;

const NAME_LIST_HAS_UUID = 1;

/** The kernel's "huge" device number encoding used in dm_ioctl.dev and name lists. */
export const encodeDev = (d: DevNo): number =>
  ((d.minor & 0xff) | ((d.major & 0xfff) << 8) | ((d.minor & ~0xff) << 12)) >>> 0;
export const decodeDev = (dev: number): DevNo => ({
  major: (dev >>> 8) & 0xfff,
  minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00),
});

export interface DmIoctlHeader {
  version: [number, number, number];
  dataSize: number;
  dataStart: number;
  targetCount: number;
  openCount: number;
  flags: number;
  eventNr: number;
  devno: DevNo;
  name: string;
  uuid: string;
}

export interface DmIoctlRequest {
  name?: string;
  uuid?: string;
  devno?: DevNo;
  flags?: number;
  eventNr?: number;
  targetCount?: number;
  /** Bytes placed at DM_IOCTL_SIZE. */
  payload?: Buffer;
  /** Total buffer size (room for results); at least head + payload. */
  size?: number;
}

function writeCString(buf: Buffer, offset: number, max: number, value: string, what: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length >= max) throw new RangeError(`${what} "${value}" is longer than ${max - 1} bytes`);
  if (bytes.includes(0)) throw new RangeError(`${what} "${value}" contains a NUL byte`);
  bytes.copy(buf, offset);
}

function readCString(buf: Buffer, offset: number, max: number): string {
  const end = Math.min(buf.length, offset + max);
  let nul = buf.indexOf(0, offset);
  if (nul < 0 || nul > end) nul = end;
  return buf.toString('utf8', offset, nul);
}

const align8 = (n: number): number => (n + 7) & ~7;

/** A complete ioctl buffer: head (version 4.0.0) + payload, zero-filled up to `size`. */
export function encodeDmIoctl(request: DmIoctlRequest): Buffer {
  const payload = request.payload ?? Buffer.alloc(0);
  const size = align8(Math.max(request.size ?? 0, DM_IOCTL_SIZE + payload.length));
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(DM_VERSION_MAJOR, 0);
  buf.writeUInt32LE(DM_VERSION_MINOR, 4);
  buf.writeUInt32LE(0, 8);
  buf.writeUInt32LE(size, 12);
  buf.writeUInt32LE(DM_IOCTL_SIZE, 16);
  buf.writeUInt32LE(request.targetCount ?? 0, 20);
  buf.writeUInt32LE((request.flags ?? 0) >>> 0, 28);
  buf.writeUInt32LE((request.eventNr ?? 0) >>> 0, 32);
  buf.writeUInt32LE(request.devno ? encodeDev(request.devno) : 0, 40);
  if (request.name) writeCString(buf, 48, DM_NAME_LEN, request.name, 'device-mapper name');
  if (request.uuid) writeCString(buf, 176, DM_UUID_LEN, request.uuid, 'device-mapper uuid');
  payload.copy(buf, DM_IOCTL_SIZE);
  return buf;
}

export function decodeDmHeader(buf: Buffer): DmIoctlHeader {
  if (buf.length < DM_IOCTL_SIZE) throw new RangeError(`dm_ioctl buffer too short: ${buf.length}`);
  return {
    version: [buf.readUInt32LE(0), buf.readUInt32LE(4), buf.readUInt32LE(8)],
    dataSize: buf.readUInt32LE(12),
    dataStart: buf.readUInt32LE(16),
    targetCount: buf.readUInt32LE(20),
    openCount: buf.readInt32LE(24),
    flags: buf.readUInt32LE(28),
    eventNr: buf.readUInt32LE(32),
    devno: decodeDev(buf.readUInt32LE(40)),
    name: readCString(buf, 48, DM_NAME_LEN),
    uuid: readCString(buf, 176, DM_UUID_LEN),
  };
}

/** TABLE_LOAD payload: specs chained by `next` = distance from one spec to the following one. */
export function encodeTargets(targets: readonly DmTarget[]): Buffer {
  const parts: Buffer[] = [];
  for (const target of targets) {
    const params = Buffer.from(`${target.params}\0`, 'utf8');
    const size = align8(DM_TARGET_SPEC_SIZE + params.length);
    const spec = Buffer.alloc(size);
    spec.writeBigUInt64LE(BigInt(target.start), 0);
    spec.writeBigUInt64LE(BigInt(target.length), 8);
    spec.writeUInt32LE(size, 20);
    writeCString(spec, 24, DM_MAX_TYPE_NAME, target.type, 'target type');
    params.copy(spec, DM_TARGET_SPEC_SIZE);
    parts.push(spec);
  }
  return Buffer.concat(parts);
}

/** The area the kernel filled: from data_start to data_size (bounded by the buffer). */
function resultArea(buf: Buffer, header: DmIoctlHeader): Buffer {
  const start = header.dataStart;
  const end = Math.min(buf.length, header.dataSize);
  return end > start ? buf.subarray(start, end) : Buffer.alloc(0);
}

/**
 * TABLE_STATUS output: `target_count` specs where `next` is the offset of the following spec from
 * the start of the result area (not from the current spec, unlike TABLE_LOAD).
 */
export function decodeTargets(buf: Buffer, header: DmIoctlHeader): DmTarget[] {
  const area = resultArea(buf, header);
  const targets: DmTarget[] = [];
  let offset = 0;
  for (let i = 0; i < header.targetCount; i++) {
    if (offset + DM_TARGET_SPEC_SIZE > area.length) break;
    targets.push({
      start: Number(area.readBigUInt64LE(offset)),
      length: Number(area.readBigUInt64LE(offset + 8)),
      type: readCString(area, offset + 24, DM_MAX_TYPE_NAME),
      params: readCString(area, offset + DM_TARGET_SPEC_SIZE, area.length - offset - DM_TARGET_SPEC_SIZE),
    });
    const next = area.readUInt32LE(offset + 20);
    if (next <= offset) break;
    offset = next;
  }
  return targets;
}

export interface DmListEntry {
  name: string;
  devno: DevNo;
  uuid: string;
}

/**
 * LIST_DEVICES output: `struct dm_name_list` records (dev u64, next u32, name), each followed at the
 * next 8-byte boundary by event_nr u32 and flags u32, then the uuid when flags says it has one.
 * A first record with dev 0 means there are no devices.
 */
export function decodeNameList(buf: Buffer, header: DmIoctlHeader): DmListEntry[] {
  const area = resultArea(buf, header);
  const out: DmListEntry[] = [];
  if (area.length < 12) return out;
  let offset = 0;
  for (;;) {
    if (offset + 12 > area.length) break;
    const dev = Number(area.readBigUInt64LE(offset));
    if (dev === 0 && offset === 0) break;
    const next = area.readUInt32LE(offset + 8);
    const name = readCString(area, offset + 12, DM_NAME_LEN);
    const limit = next ? offset + next : area.length;
    const extra = align8(offset + 12 + Buffer.byteLength(name) + 1);
    let uuid = '';
    if (extra + 8 <= limit) {
      const flags = area.readUInt32LE(extra + 4);
      if (flags & NAME_LIST_HAS_UUID)
        uuid = readCString(area, extra + 8, Math.min(DM_UUID_LEN, limit - extra - 8));
    }
    out.push({ name, devno: decodeDev(dev), uuid });
    if (!next) break;
    offset += next;
  }
  return out;
}

export interface DmTargetVersion {
  name: string;
  version: [number, number, number];
}

/** LIST_VERSIONS output: `struct dm_target_versions` (next u32, version[3] u32, name) records. */
export function decodeVersionList(buf: Buffer, header: DmIoctlHeader): DmTargetVersion[] {
  const area = resultArea(buf, header);
  const out: DmTargetVersion[] = [];
  let offset = 0;
  while (offset + 16 <= area.length) {
    const next = area.readUInt32LE(offset);
    out.push({
      version: [area.readUInt32LE(offset + 4), area.readUInt32LE(offset + 8), area.readUInt32LE(offset + 12)],
      name: readCString(area, offset + 16, (next || area.length - offset) - 16),
    });
    if (!next) break;
    offset += next;
  }
  return out;
}

/** TABLE_DEPS output: count u32, padding u32, then count u64 device numbers. */
export function decodeDeps(buf: Buffer, header: DmIoctlHeader): DevNo[] {
  const area = resultArea(buf, header);
  if (area.length < 8) return [];
  const count = area.readUInt32LE(0);
  const out: DevNo[] = [];
  for (let i = 0; i < count && 8 + i * 8 + 8 <= area.length; i++) {
    out.push(decodeDev(Number(area.readBigUInt64LE(8 + i * 8))));
  }
  return out;
}

/** DEV_RENAME payload: the new name (or the new uuid with DmFlag.UUID), NUL-terminated. */
export function encodeRename(newValue: string, isUuid: boolean): Buffer {
  const max = isUuid ? DM_UUID_LEN : DM_NAME_LEN;
  const buf = Buffer.alloc(align8(Buffer.byteLength(newValue) + 1));
  writeCString(buf, 0, max, newValue, isUuid ? 'device-mapper uuid' : 'device-mapper name');
  return buf;
}
