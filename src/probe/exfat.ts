import { le32 } from '../io/bytes.js';
import type { Region } from './region.js';
import { latin1, serial32, utf16Label } from './text.js';
import type { ContentInfo } from './types.js';

const ENTRY = 32;
const ENTRY_END = 0x00;
const ENTRY_LABEL = 0x83;
const FIRST_CLUSTER = 2;
const LAST_CLUSTER = 0xffffff6;
// Give up on a root directory longer than this many entries (the label is normally the first).
const MAX_ENTRIES = 4096;

/** The boot-region checksum over sectors 0-10 (skipping VolumeFlags and PercentInUse). */
function bootChecksum(bytes: Uint8Array, sectorSize: number): number {
  let sum = 0;
  for (let i = 0; i < sectorSize * 11; i++) {
    if (i === 106 || i === 107 || i === 112) continue;
    sum = (((sum & 1) << 31) | (sum >>> 1)) + bytes[i]!;
    sum >>>= 0;
  }
  return sum;
}

interface ExfatGeometry {
  sectorShift: number;
  clusterShift: number;
  fatOffset: number;
  heapOffset: number;
}

function clusterOffset(g: ExfatGeometry, cluster: number): number {
  return (g.heapOffset + (cluster - FIRST_CLUSTER) * 2 ** g.clusterShift) * 2 ** g.sectorShift;
}

/** The volume-label entry of the root directory, following the FAT chain between clusters. */
function findLabel(region: Region, g: ExfatGeometry, root: number): Uint8Array | null {
  const clusterBytes = 2 ** (g.sectorShift + g.clusterShift);
  const sectorBytes = 2 ** g.sectorShift;
  let cluster = root;
  let offset = clusterOffset(g, cluster);
  for (let seen = 0; seen < MAX_ENTRIES; ) {
    const sector = region.read(offset, sectorBytes);
    if (!sector) return null;
    for (let i = 0; i < sectorBytes; i += ENTRY, seen++) {
      const type = sector[i];
      if (type === ENTRY_END) return null;
      if (type === ENTRY_LABEL) return sector.subarray(i, i + ENTRY);
    }
    offset += sectorBytes;
    if ((offset - clusterOffset(g, cluster)) % clusterBytes === 0) {
      const next = region.read(g.fatOffset * sectorBytes + cluster * 4, 4);
      if (!next) return null;
      cluster = le32(next, 0);
      if (cluster < FIRST_CLUSTER || cluster > LAST_CLUSTER) return null;
      offset = clusterOffset(g, cluster);
    }
  }
  return null;
}

/** exFAT: boot sector with a verified checksum; label from the root directory (UTF-16). */
export function probeExfat(region: Region): ContentInfo | null {
  const bs = region.read(0, 512);
  if (!bs) return null;
  if (latin1(bs, 3, 8) !== 'EXFAT   ') return null;
  if (bs[510] !== 0x55 || bs[511] !== 0xaa) return null;
  if (bs[0] !== 0xeb || bs[1] !== 0x76 || bs[2] !== 0x90) return null;
  if (bs.subarray(11, 64).some((b) => b !== 0)) return null;
  const sectorShift = bs[108]!;
  const clusterShift = bs[109]!;
  if (sectorShift < 9 || sectorShift > 12 || sectorShift + clusterShift > 25) return null;
  const sectorSize = 2 ** sectorShift;
  const boot = region.read(0, sectorSize * 12);
  if (!boot) return null;
  const sum = bootChecksum(boot, sectorSize);
  for (let i = 0; i < sectorSize; i += 4) if (le32(boot, sectorSize * 11 + i) !== sum) return null;

  const g: ExfatGeometry = { sectorShift, clusterShift, fatOffset: le32(bs, 80), heapOffset: le32(bs, 88) };
  const info: ContentInfo = {
    type: 'exfat',
    usage: 'filesystem',
    mountable: true,
    uuid: serial32(bs, 100),
    version: `${bs[105]}.${bs[104]}`,
  };
  const entry = findLabel(region, g, le32(bs, 96));
  if (entry) {
    const label = utf16Label(entry, 2, Math.min(entry[1]! * 2, 22), true);
    if (label) info.label = label;
  }
  return info;
}
