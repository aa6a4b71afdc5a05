import { be16, be64 } from '../io/bytes.js';
import type { Region } from './region.js';
import { asciiField, cLabel } from './text.js';
import type { ContentInfo } from './types.js';

const PRIMARY = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]; // "LUKS\xBA\xBE"
const SECONDARY = [0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe]; // "SKUL\xBA\xBE"
// Where a LUKS2 secondary header may sit, for when the primary one was wiped or damaged.
const SECONDARY_OFFSETS = [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000];
const HEADER = 512;

function valid(h: Uint8Array, magic: number[], at: number): boolean {
  if (!magic.every((b, i) => h[i] === b)) return false;
  // A LUKS2 header records its own offset; a copy found elsewhere is stale data.
  return be16(h, 6) !== 2 || be64(h, 0x100) === BigInt(at);
}

function describe(h: Uint8Array): ContentInfo {
  const version = be16(h, 6);
  const info: ContentInfo = {
    type: 'crypto_LUKS',
    usage: 'crypto',
    mountable: false,
    version: String(version),
  };
  if (version === 1 || version === 2) {
    const uuid = asciiField(h, 0xa8, 40);
    if (uuid) info.uuid = uuid;
  }
  if (version === 2) {
    const label = cLabel(h, 0x18, 48);
    if (label) info.label = label;
  }
  return info;
}

/** LUKS1 and LUKS2 (`crypto_LUKS`): UUID, and for LUKS2 the label; a lone LUKS2 secondary header counts too. */
export function probeLuks(region: Region): ContentInfo | null {
  const primary = region.read(0, HEADER);
  if (!primary) return null;
  if (valid(primary, PRIMARY, 0)) return describe(primary);
  for (const at of SECONDARY_OFFSETS) {
    const copy = region.read(at, HEADER);
    if (!copy) return null;
    if (valid(copy, SECONDARY, at)) return describe(copy);
  }
  return null;
}
