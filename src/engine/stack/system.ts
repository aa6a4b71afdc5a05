/**
 * The system a filesystem layer holds, found without mounting where the filesystem is read here
 * (ext2/3/4, xfs), as `--json` prints it and the app draws it: never a hash, only names and modes.
 */
import type { Disk } from '../../io/disk.js';
import { readExtRoot } from '../../probe/system/ext-root.js';
import { readXfsRoot } from '../../probe/system/xfs-root.js';
import type { ContentInfo } from '../../probe/types.js';
import { errorText } from '../errors.js';
import type { SystemLayer } from './types.js';

export interface SystemFinding {
  system: SystemLayer | null;
  /** Why nothing is said about the system: a filesystem read only once mounted, or one that could not be read. */
  systemNote: string | null;
}

const EXT = new Set(['ext2', 'ext3', 'ext4']);
export const NO_SYSTEM: SystemFinding = { system: null, systemNote: null };

/** What `disk` (a partition, an LV, a bare image) holds as a system, given what the probe found on it. */
export function findFilesystemSystem(disk: Disk, content: ContentInfo | null): SystemFinding {
  if (content?.usage !== 'filesystem') return NO_SYSTEM;
  const reader = EXT.has(content.type) ? readExtRoot : content.type === 'xfs' ? readXfsRoot : null;
  if (!reader)
    return {
      system: null,
      systemNote: `${content.type} is not read without mounting: the app's mount session names its system once mounted`,
    };
  let read: ReturnType<typeof readExtRoot>;
  try {
    read = reader(disk);
  } catch (error) {
    // An I/O error of the device: said for this filesystem, the rest of the source is still read.
    return { system: null, systemNote: `${content.type} could not be read: ${errorText(error)}` };
  }
  if (!read.ok) return { system: null, systemNote: `${content.type} could not be read: ${read.problem}` };
  const found = read.system;
  if (!found) return NO_SYSTEM;
  const release = found.osRelease;
  return {
    system: {
      kind: 'linux',
      label: found.label,
      os:
        release?.prettyName ??
        (release?.name ? [release.name, release.versionId].filter(Boolean).join(' ') : null),
      id: release?.id ?? null,
      version: release?.versionId ?? null,
      hostname: found.hostname,
      selinux: found.selinux?.mode ?? null,
      selinuxPolicy: found.selinux?.policy ?? null,
      osReleasePath: found.osReleasePath,
      shadow: read.shadow,
      warnings: found.warnings,
    },
    systemNote: null,
  };
}
