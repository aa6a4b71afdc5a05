/**
 * What operating system a filesystem holds, read from a few files (never by running anything):
 * a Linux root by its os-release, hostname and SELinux mode; a Windows system by its SAM hive.
 */
import { findLinuxRoot, type LinuxSystem, type SystemFiles } from '../probe/system/linux-root.js';
import { findTreePathIgnoringCase, readTreeFile, statTreePath, TreeError, type TreeReader } from './tree.js';

// The Linux side is read the same way with or without a mount: its rules live with the probe.
export {
  type LinuxSystem,
  parseHostname,
  parseSelinuxConfig,
  type SelinuxConfig,
  type SelinuxMode,
  selinuxEnabled,
} from '../probe/system/linux-root.js';

export interface WindowsSystem {
  kind: 'windows';
  label: string;
  /** Where the SAM hive is, as found (case as on disk). */
  samPath: string;
  /** What kpartx-tui cannot do here, and what can. */
  notice: string;
}

export type FoundSystem = LinuxSystem | WindowsSystem;

export const WINDOWS_NOTICE =
  'Windows keeps local account passwords in the SAM registry hive, which kpartx-tui does not edit. ' +
  'chntpw can clear or reset a local account offline (chntpw -u USER <mountpoint>/Windows/System32/config/SAM), ' +
  'but it is unmaintained (last release 2014) and cannot help with Microsoft or domain accounts, ' +
  'or with a volume encrypted by BitLocker.';

/** A lookup that meets an unreadable directory or a link loop finds nothing there. */
function orWhenUnreadable<T>(look: () => T, fallback: T): T {
  try {
    return look();
  } catch (error) {
    if (error instanceof TreeError) return fallback;
    throw error;
  }
}

/** A mounted tree's files, as the Linux root rules read them. */
const treeFiles = (tree: TreeReader): SystemFiles => ({
  read: (path) => readTreeFile(tree, path),
  kind: (path) => statTreePath(tree, path)?.kind ?? null,
  isReadError: (error): error is Error => error instanceof TreeError,
});

function findWindows(tree: TreeReader): WindowsSystem | null {
  const sam = orWhenUnreadable(() => {
    const path = findTreePathIgnoringCase(tree, '/Windows/System32/config/SAM');
    return path !== null && statTreePath(tree, path)?.kind === 'file' ? path : null;
  }, null);
  if (sam === null) return null;
  return { kind: 'windows', label: 'Windows system', samPath: sam, notice: WINDOWS_NOTICE };
}

/** The system the tree holds, or null when it is neither a Linux root nor a Windows system. */
export function findSystem(tree: TreeReader): FoundSystem | null {
  return findLinuxRoot(treeFiles(tree)) ?? findWindows(tree);
}
