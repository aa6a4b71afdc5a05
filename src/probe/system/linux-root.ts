/**
 * A Linux root told by its files (never by running anything): os-release, hostname and the SELinux
 * config, or for a system without os-release its account files and a shell. The files come through
 * SystemFiles, so the same rules apply to a mounted tree (src/recovery) and to a filesystem read
 * without mounting (volume-root.ts, over the ext and XFS readers).
 */
import { type OsRelease, osReleaseLabel, parseEnvAssignments, parseOsRelease } from './os-release.js';

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

/** How the files are reached: links followed inside the filesystem, never out of it. */
export interface SystemFiles {
  /** The regular file `path` leads to, null when there is none; throws when it cannot be read. */
  read(path: string): Uint8Array | null;
  /** What `path` leads to, null when nothing (or it cannot be told). */
  kind(path: string): 'file' | 'directory' | 'symlink' | 'other' | null;
  /** Whether an error thrown by read or kind is the filesystem's word (kept as a warning) rather than a bug. */
  isReadError(error: unknown): error is Error;
}

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

/** Whether SELinux would be active when the guest boots (as far as its config says). */
export const selinuxEnabled = (selinux: SelinuxConfig | null): boolean =>
  selinux !== null && (selinux.mode === 'enforcing' || selinux.mode === 'permissive');

const decoder = new TextDecoder('utf-8');

/** The Linux root the files hold, or null when they are not one. */
export function findLinuxRoot(files: SystemFiles): LinuxSystem | null {
  const warnings: string[] = [];
  const read = (path: string): string | null => {
    try {
      const bytes = files.read(path);
      return bytes === null ? null : decoder.decode(bytes);
    } catch (error) {
      if (!files.isReadError(error)) throw error;
      warnings.push(error.message);
      return null;
    }
  };
  const kind = (path: string) => {
    try {
      return files.kind(path);
    } catch (error) {
      if (!files.isReadError(error)) throw error;
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
  // Old or stripped systems without os-release still have their account files and a shell.
  if (
    osRelease === null &&
    (kind('/etc/passwd') !== 'file' || kind('/etc/shadow') !== 'file' || kind('/bin/sh') === null)
  )
    return null;

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
