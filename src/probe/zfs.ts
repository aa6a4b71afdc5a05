import { be32, be64, le64 } from '../io/bytes.js';
import type { Region } from './region.js';
import { cLabel } from './text.js';
import type { ContentInfo } from './types.js';

const LABEL_SIZE = 256 * 1024;
const NVLIST = 16 * 1024; // the label's packed nvlist (XDR)
const NVLIST_WINDOW = 4096; // the pool name and GUIDs come first
const UBERBLOCKS = 128 * 1024;
const UBERBLOCK_SIZE = 1024;
const UBERBLOCK_COUNT = 128;
const UBERBLOCK_MAGIC = 0x00bab10cn;
const SWAPPED_MAGIC = 0x0cb1ba0000000000n;
const WANTED = 4; // uberblocks needed before calling it ZFS, as blkid does
const MIN_SIZE = 64 * 1024 * 1024;
const TYPE_UINT64 = 8;
const TYPE_STRING = 9;

/** The four vdev labels: two at the start, two at the 256 KiB-aligned end. */
function labelOffsets(size: number): number[] {
  const aligned = size - (size % LABEL_SIZE);
  return [0, LABEL_SIZE, aligned - 2 * LABEL_SIZE, aligned - LABEL_SIZE];
}

/** A label's nvlist header: XDR encoding, version 0, unique-names flag. A cheap test before the uberblock scan. */
function looksLikeNvlist(region: Region, labelAt: number): boolean {
  const h = region.read(labelAt + NVLIST, 12);
  return (
    h !== null && h[0] === 1 && (h[1] === 0 || h[1] === 1) && be32(h, 4) === 0 && (be32(h, 8) & ~3) === 0
  );
}

interface Pairs {
  name?: string;
  poolGuid?: bigint;
  guid?: bigint;
}

/** Top-level `name`, `pool_guid` and `guid` from the XDR nvlist at the start of the label. */
function readPairs(region: Region, labelAt: number): Pairs {
  const found: Pairs = {};
  const nv = region.read(labelAt + NVLIST, NVLIST_WINDOW);
  if (!nv) return found;
  let at = 12;
  while (at + 12 <= nv.length) {
    const size = be32(nv, at);
    const nameLength = be32(nv, at + 8);
    if (size === 0 || at + size > nv.length || nameLength + 12 > size) break;
    const name = String.fromCharCode(...nv.subarray(at + 12, at + 12 + nameLength));
    const value = at + 12 + ((nameLength + 3) & ~3);
    const type = be32(nv, value);
    if (name === 'name' && type === TYPE_STRING) {
      const length = be32(nv, value + 8);
      if (value + 12 + length <= at + size) found.name = cLabel(nv, value + 12, length);
    } else if ((name === 'pool_guid' || name === 'guid') && type === TYPE_UINT64 && value + 16 <= at + size) {
      found[name === 'guid' ? 'guid' : 'poolGuid'] = be64(nv, value + 8);
    }
    if (found.name !== undefined && found.poolGuid !== undefined && found.guid !== undefined) break;
    at += size;
  }
  return found;
}

/**
 * ZFS pool member (`zfs_member`): at least four uberblocks across the vdev labels; pool name as
 * the label, pool GUID as the UUID and the vdev GUID as UUID_SUB, all in decimal like blkid.
 */
export function probeZfs(region: Region): ContentInfo | null {
  if (region.size < MIN_SIZE) return null;
  const offsets = labelOffsets(region.size);
  if (!offsets.some((at) => looksLikeNvlist(region, at))) return null;

  let found = 0;
  let version: bigint | undefined;
  let lastLabel = 0;
  for (const at of offsets) {
    const ring = region.read(at + UBERBLOCKS, UBERBLOCK_SIZE * UBERBLOCK_COUNT);
    if (!ring) return null;
    for (let i = 0; i < UBERBLOCK_COUNT; i++) {
      const magic = le64(ring, i * UBERBLOCK_SIZE);
      if (magic !== UBERBLOCK_MAGIC && magic !== SWAPPED_MAGIC) continue;
      found++;
      const v = le64(ring, i * UBERBLOCK_SIZE + 8);
      version = magic === UBERBLOCK_MAGIC ? v : be64(ring, i * UBERBLOCK_SIZE + 8);
    }
    lastLabel = at;
    if (found >= WANTED) break;
  }
  if (found < WANTED) return null;

  const info: ContentInfo = { type: 'zfs_member', usage: 'raid', mountable: false };
  if (version !== undefined) info.version = version.toString();
  const pairs = readPairs(region, lastLabel);
  if (pairs.name) info.label = pairs.name;
  if (pairs.poolGuid !== undefined) info.uuid = pairs.poolGuid.toString();
  if (pairs.guid !== undefined) info.uuidSub = pairs.guid.toString();
  return info;
}
