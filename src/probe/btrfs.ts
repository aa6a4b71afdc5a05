import { le32 } from '../io/bytes.js';
import type { Region } from './region.js';
import { cLabel, latin1, uuidString } from './text.js';
import type { ContentInfo } from './types.js';

// The primary superblock is at 64 KiB; offsets below are inside it.
const SUPERBLOCK = 0x10000;
const MAGIC = '_BHRfS_M';

/** btrfs: fsid is the filesystem's UUID, the dev_item UUID (UUID_SUB) is this device's. */
export function probeBtrfs(region: Region): ContentInfo | null {
  const sb = region.read(SUPERBLOCK, 0x1000);
  if (!sb) return null;
  if (latin1(sb, 0x40, 8) !== MAGIC) return null;
  const sectorSize = le32(sb, 0x90);
  if (sectorSize < 512 || sectorSize > 65536 || (sectorSize & (sectorSize - 1)) !== 0) return null;
  const info: ContentInfo = { type: 'btrfs', usage: 'filesystem', mountable: true };
  const label = cLabel(sb, 0x12b, 256);
  if (label) info.label = label;
  const uuid = uuidString(sb, 0x20);
  if (uuid) info.uuid = uuid;
  const sub = uuidString(sb, 0xc9 + 66);
  if (sub) info.uuidSub = sub;
  return info;
}
