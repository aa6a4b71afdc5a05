/**
 * What operating system a filesystem holds, read from a few files (never by running anything):
 * a Linux root by its os-release, hostname and SELinux mode; a Windows system by its SAM hive.
 */
import { type OsRelease, osReleaseLabel, parseEnvAssignments, parseOsRelease } from './os-release.js';
import { findTreePathIgnoringCase, readTreeFile, statTreePath, TreeError, type TreeReader } from './tree.js';

export type SelinuxMode = 'enforcing' | 'permissive' | 'disabled';

export interface SelinuxConfig {
  /** SELINUX= in /etc/selinux/config; null when the file does not say. */
  mode: SelinuxMode | null;
  /** SELINUXTYPE=, the policy (targeted, mls…). */
  policy: string | null;
}

export interface LinuxSystem {
  kind: 'linux';
  /** "Debian GNU/Linux 12 root". */
  label: string;
  /** null when neither os-release exists (recognised by its account files alone). */
  osRelease: OsRelease | null;
  /** Which os-release was read: /etc/os-release or /usr/lib/os-release. */
  osReleasePath: string | null;
  hostname: string | null;
  /** null when the guest has no /etc/selinux/config. */
  selinux: SelinuxConfig | null;
  /** Files that could not be read, named with the reason. */
  warnings: string[];
}

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

/** SELINUX= and SELINUXTYPE= from /etc/selinux/config (the same env-style syntax). */
export function parseSelinuxConfig(text: string): SelinuxConfig {
  const fields = parseEnvAssignments(text);
  const mode = fields.SELINUX?.trim().toLowerCase();
  return {
    mode: mode === 'enforcing' || mode === 'permissive' || mode === 'disabled' ? mode : null,
    policy: fields.SELINUXTYPE?.trim() || null,
  };
}

/** The first line of /etc/hostname that is not a comment (hostname(5)), trimmed. */
export function parseHostname(text: string): string | null {
  for (const line of text.split('\n')) {
    const name = line.trim();
    if (name !== '' && !name.startsWith('#')) return name;
  }
  return null;
}

const decoder = new TextDecoder('utf-8');

/** Whether SELinux would be active when the guest boots (as far as its config says). */
export const selinuxEnabled = (selinux: SelinuxConfig | null): boolean =>
  selinux !== null && (selinux.mode === 'enforcing' || selinux.mode === 'permissive');

/** A lookup that meets an unreadable directory or a link loop finds nothing there. */
function orWhenUnreadable<T>(look: () => T, fallback: T): T {
  try {
    return look();
  } catch (error) {
    if (error instanceof TreeError) return fallback;
    throw error;
  }
}

function findLinux(tree: TreeReader): LinuxSystem | null {
  const warnings: string[] = [];
  const read = (path: string): string | null => {
    try {
      const bytes = readTreeFile(tree, path);
      return bytes === null ? null : decoder.decode(bytes);
    } catch (error) {
      if (!(error instanceof TreeError)) throw error;
      warnings.push(error.message);
      return null;
    }
  };

  let osRelease: OsRelease | null = null;
  let osReleasePath: string | null = null;
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    const text = read(path);
    if (text !== null) {
      osRelease = parseOsRelease(text);
      osReleasePath = path;
      break;
    }
  }
  if (osRelease === null) {
    // Old or stripped systems without os-release still have their account files and a shell.
    const kind = (path: string) => orWhenUnreadable(() => statTreePath(tree, path)?.kind ?? null, null);
    if (kind('/etc/passwd') !== 'file' || kind('/etc/shadow') !== 'file' || kind('/bin/sh') === null) {
      return null;
    }
  }

  const hostnameText = read('/etc/hostname');
  const selinuxText = read('/etc/selinux/config');
  return {
    kind: 'linux',
    label: osRelease ? osReleaseLabel(osRelease) : 'Linux root',
    osRelease,
    osReleasePath,
    hostname: hostnameText === null ? null : parseHostname(hostnameText),
    selinux: selinuxText === null ? null : parseSelinuxConfig(selinuxText),
    warnings,
  };
}

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
  return findLinux(tree) ?? findWindows(tree);
}
