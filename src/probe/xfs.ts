import { be16, be32, be64 } from '../io/bytes.js';
import type { Region } from './region.js';
import { cLabel, latin1, uuidString } from './text.js';
import type { ContentInfo } from './types.js';

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** XFS: big-endian superblock at 0 with `XFSB`; a few geometry checks keep stray magics out. */
export function probeXfs(region: Region): ContentInfo | null {
  const sb = region.read(0, 512);
  if (!sb) return null;
  if (latin1(sb, 0, 4) !== 'XFSB') return null;
  const blockSize = be32(sb, 4);
  const sectorSize = be16(sb, 102);
  const agCount = be32(sb, 88);
  const agBlocks = be32(sb, 84);
  const dataBlocks = be64(sb, 8);
  if (!isPowerOfTwo(blockSize) || blockSize < 512 || blockSize > 65536) return null;
  if (!isPowerOfTwo(sectorSize) || sectorSize < 512 || sectorSize > 32768) return null;
  if (agCount === 0 || agBlocks === 0 || dataBlocks === 0n) return null;
  if ((be16(sb, 100) & 0xf) > 5) return null; // superblock version: 1..5
  const info: ContentInfo = { type: 'xfs', usage: 'filesystem', mountable: true };
  const label = cLabel(sb, 108, 12);
  if (label) info.label = label;
  const uuid = uuidString(sb, 32);
  if (uuid) info.uuid = uuid;
  return info;
}
