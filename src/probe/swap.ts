import { le32 } from '../io/bytes.js';
import type { Region } from './region.js';
import { cLabel, latin1, uuidString } from './text.js';
import type { ContentInfo } from './types.js';

// The signature sits in the last 10 bytes of the first page, whatever the page size was.
const PAGE_SIZES = [0x1000, 0x2000, 0x4000, 0x8000, 0x10000];
const V0 = 'SWAP-SPACE';
const V1 = 'SWAPSPACE2';
// TuxOnIce hibernation images keep a swap signature but are not swap.
const TUXONICE = [0xed, 0xc3, 0x02, 0xe9, 0x98, 0x56, 0xe5, 0x0c];

function signatureAt(region: Region, pageSize: number): string | null {
  const tail = region.read(pageSize - 10, 10);
  if (!tail) return null;
  const text = latin1(tail, 0, tail.length);
  return text === V0 || text === V1 ? text : null;
}

/** Linux swap (v0 and v1); v1 carries a label and a UUID in the header at 1 KiB. */
export function probeSwap(region: Region): ContentInfo | null {
  if (region.size < 10 * 4096) return null;
  let signature: string | null = null;
  for (const pageSize of PAGE_SIZES) {
    signature = signatureAt(region, pageSize);
    if (signature) break;
  }
  if (!signature) return null;
  const head = region.read(0, 8);
  if (head && TUXONICE.every((b, i) => head[i] === b)) return null;

  const info: ContentInfo = { type: 'swap', usage: 'swap', mountable: false };
  if (signature === V0) {
    info.version = '0';
    return info;
  }
  const header = region.read(0x400, 0x200);
  if (!header) return null;
  const version = le32(header, 0);
  const swappedVersion = le32(header, 0) === 0x01000000;
  if (version !== 1 && !swappedVersion) return null;
  if (le32(header, 4) === 0) return null; // last page unset: not a usable header
  // Only trust label and UUID when the padding after them is clean, as blkid does.
  const paddingClean = le32(header, 0x2c + 32 * 4) === 0 && le32(header, 0x2c + 33 * 4) === 0;
  if (paddingClean) {
    const label = cLabel(header, 0x1c, 16);
    if (label) info.label = label;
    const uuid = uuidString(header, 0x0c);
    if (uuid) info.uuid = uuid;
  }
  info.version = '1';
  return info;
}
