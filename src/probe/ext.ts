import { le16, le32 } from '../io/bytes.js';
import type { Region } from './region.js';
import { cLabel, uuidString } from './text.js';
import type { ContentInfo } from './types.js';

// Superblock at 1 KiB; offsets below are inside it.
const SB = 0x400;
const MAGIC = 0x38;
const COMPAT_HAS_JOURNAL = 0x4;
const INCOMPAT_JOURNAL_DEV = 0x8;
// Features an ext2 or ext3 driver understands; anything else means ext4.
const RO_COMPAT_EXT2_EXT3 = 0x1 | 0x2 | 0x4;
const INCOMPAT_EXT2 = 0x2 | 0x10;
const INCOMPAT_EXT3 = INCOMPAT_EXT2 | 0x4;

/** ext2/ext3/ext4, and `jbd` for an external journal device, told apart by feature flags as blkid does. */
export function probeExt(region: Region): ContentInfo | null {
  const sb = region.read(SB, 0x200);
  if (!sb) return null;
  if (sb[MAGIC] !== 0x53 || sb[MAGIC + 1] !== 0xef) return null;
  const compat = le32(sb, 0x5c);
  const incompat = le32(sb, 0x60);
  const roCompat = le32(sb, 0x64);

  let type: string;
  if (incompat & INCOMPAT_JOURNAL_DEV) type = 'jbd';
  else if (compat & COMPAT_HAS_JOURNAL)
    type = (roCompat & ~RO_COMPAT_EXT2_EXT3) === 0 && (incompat & ~INCOMPAT_EXT3) === 0 ? 'ext3' : 'ext4';
  else type = (roCompat & ~RO_COMPAT_EXT2_EXT3) === 0 && (incompat & ~INCOMPAT_EXT2) === 0 ? 'ext2' : 'ext4';

  const info: ContentInfo = {
    type,
    usage: type === 'jbd' ? 'other' : 'filesystem',
    mountable: type !== 'jbd',
    version: `${le32(sb, 0x4c)}.${le16(sb, 0x3e)}`,
  };
  const label = cLabel(sb, 0x78, 16);
  if (label) info.label = label;
  const uuid = uuidString(sb, 0x68);
  if (uuid) info.uuid = uuid;
  return info;
}
