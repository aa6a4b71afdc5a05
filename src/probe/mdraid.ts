import { be32, le16, le32, le64 } from '../io/bytes.js';
import type { Region } from './region.js';
import { cLabel, uuidString } from './text.js';
import type { ContentInfo } from './types.js';

const MAGIC = 0xa92b4efc;
const RESERVED = 0x10000; // 0.90 keeps its superblock in the last 64 KiB-aligned 64 KiB
const V1_SIZE = 256;
const MAX_DEVICES = 1920;

function member(version: string): ContentInfo {
  return { type: 'linux_raid_member', usage: 'raid', mountable: false, version };
}

/** The 1.x superblock checksum: 32-bit words summed with the checksum field as zero, folded to 32 bits. */
function v1Checksum(sb: Uint8Array, length: number): number {
  let sum = 0n;
  for (let i = 0; i + 4 <= length; i += 4) sum += BigInt(i === 0xd8 ? 0 : le32(sb, i));
  if (length % 4 === 2) sum += BigInt(le16(sb, length - 2));
  return Number(((sum & 0xffffffffn) + (sum >> 32n)) & 0xffffffffn);
}

function probeV1(region: Region, at: number, version: string): ContentInfo | null {
  const head = region.read(at, V1_SIZE);
  if (!head) return null;
  if (le32(head, 0) !== MAGIC || le32(head, 4) !== 1) return null;
  if (le64(head, 0x90) !== BigInt(at / 512)) return null;
  const maxDev = le32(head, 0xdc);
  if (maxDev > MAX_DEVICES) return null;
  const sb = region.read(at, V1_SIZE + maxDev * 2);
  if (!sb || v1Checksum(sb, sb.length) !== le32(sb, 0xd8)) return null;
  const info = member(version);
  const uuid = uuidString(sb, 0x10);
  if (uuid) info.uuid = uuid;
  const sub = uuidString(sb, 0xa8);
  if (sub) info.uuidSub = sub;
  const name = cLabel(sb, 0x20, 32);
  if (name) info.label = name;
  return info;
}

/** 0.90: native-endian superblock at the end; its UUID words are printed byte-reversed on little-endian disks. */
function probeV090(region: Region): ContentInfo | null {
  const at = Math.floor(region.size / RESERVED) * RESERVED - RESERVED;
  if (at < 0) return null;
  const sb = region.read(at, 0x40);
  if (!sb) return null;
  const little = le32(sb, 0) === MAGIC;
  if (!little && be32(sb, 0) !== MAGIC) return null;
  const word = (off: number) => (little ? le32(sb, off) : be32(sb, off));
  const [major, minor, patch] = [word(4), word(8), word(12)];
  const componentBytes = word(0x20) * 1024;
  if (region.size < componentBytes + RESERVED || at < componentBytes) return null;
  const uuid = new Uint8Array(16);
  const uuidWords = minor >= 90 ? [0x14, 0x34, 0x38, 0x3c] : [0x14];
  uuidWords.forEach((off, i) => {
    for (let k = 0; k < 4; k++) uuid[i * 4 + k] = sb[off + (little ? 3 - k : k)]!;
  });
  const info = member(`${major}.${minor}.${patch}`);
  const text = uuidString(uuid, 0);
  if (text) info.uuid = text;
  return info;
}

/**
 * Linux md RAID member (`linux_raid_member`): 0.90 and 1.0 at the end of the device, 1.1 at its
 * start, 1.2 at 4 KiB. Probed before filesystems: a 1.0 mirror member holds an intact filesystem.
 */
export function probeMdRaid(region: Region): ContentInfo | null {
  if (region.size > RESERVED) {
    const old = probeV090(region);
    if (old) return old;
    const end = probeV1(region, Math.floor(region.size / 0x1000) * 0x1000 - 0x2000, '1.0');
    if (end) return end;
  }
  return probeV1(region, 0, '1.1') ?? probeV1(region, 0x1000, '1.2');
}
