import { be16, le16 } from '../io/bytes.js';
import type { Region } from './region.js';
import { latin1 } from './text.js';
import type { ContentInfo } from './types.js';

/** squashfs 4 (`hsqs`), and the old 3.x layouts blkid calls `squashfs3` (either byte order). */
export function probeSquashfs(region: Region): ContentInfo | null {
  const sb = region.read(0, 32);
  if (!sb) return null;
  const magic = latin1(sb, 0, 4);
  if (magic !== 'hsqs' && magic !== 'sqsh') return null;
  const littleEndian = magic === 'hsqs';
  const major = littleEndian ? le16(sb, 28) : be16(sb, 28);
  const minor = littleEndian ? le16(sb, 30) : be16(sb, 30);
  if (littleEndian && major >= 4)
    return { type: 'squashfs', usage: 'filesystem', mountable: true, version: `${major}.${minor}` };
  if (major <= 3)
    // The kernel only mounts squashfs 4; 3.x images need unsquashfs from squashfs-tools 3.
    return { type: 'squashfs3', usage: 'filesystem', mountable: false, version: `${major}.${minor}` };
  return null;
}
