/**
 * The guided session after mapping: mount a partition map, see what is mounted from a source,
 * unmount, and refuse to unmap what is still mounted. Shared by the CLI and the interactive app,
 * and the same for both backends: a map is found by its /dev/mapper path and device number.
 */
import { lstatSync, mkdirSync, readFileSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { type DevNo, sameDevNo } from '../io/devno.js';
import { strerror } from '../io/errno.js';
import { openFileDisk } from '../io/file-disk.js';
import { KernelError } from '../io/kernel-error.js';
import { mountTypeFor, probeContent } from '../probe/index.js';
import type { ExistingMap } from './backend.js';
import { errorText } from './errors.js';
import type { Machine, MountEntry } from './machine.js';
import { noReplayOptions } from './mount-options.js';

export interface FilesystemSignature {
  /** What blkid would call it: `ext4`, `vfat`, `xfs`… */
  type: string;
  /** The kernel filesystem type to mount it with. */
  mountType: string;
}

/**
 * The filesystem on `device` (`size` bytes: a block device's comes from the kernel) as src/probe
 * recognises it, with the kernel type to mount it with; undefined when nothing there is a
 * filesystem the kernel mounts as it is.
 */
export function probeFilesystem(
  device: string,
  size = statSync(device).size,
): FilesystemSignature | undefined {
  const disk = openFileDisk(device, size, 512);
  try {
    const info = probeContent(disk, 0, size);
    const mountType = info ? mountTypeFor(info) : undefined;
    return info && mountType ? { type: info.type, mountType } : undefined;
  } finally {
    disk.close();
  }
}

/** The kernel's filesystem types (`/proc/filesystems`), to say clearly when one is missing. */
function kernelFilesystems(): Set<string> {
  try {
    return new Set(
      readFileSync('/proc/filesystems', 'utf8')
        .split('\n')
        .map((line) => line.split('\t').pop()?.trim() ?? '')
        .filter(Boolean),
    );
  } catch {
    return new Set();
  }
}

export class SessionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionError';
  }
}

export interface MountRequest {
  /** Map name (`loop0p1`): names the default mountpoint. */
  name: string;
  /** Device path, normally `/dev/mapper/<name>`. */
  device: string;
  readOnly: boolean;
  /** Let programs on it run; mounts are `noexec` unless this is set. */
  exec?: boolean;
  /** Kernel filesystem type; detected when absent. */
  fstype?: string;
  /** Where to mount; `<mount root>/<name>` when absent (created, and removed again on unmount). */
  mountpoint?: string;
  /**
   * Filesystem options the user added, checked by parseUserMountOptions (user-mount-options.ts):
   * appended to the data string, after the ones that skip a journal replay.
   */
  options?: string[];
  /**
   * The mountpoint lies inside this mounted filesystem (a guest's /boot in its mounted root): it
   * must exist there as a directory, since nothing is ever created inside a mounted filesystem.
   */
  nestedIn?: string;
}

export interface MountedPartition {
  name: string;
  device: string;
  devno: DevNo;
  mountpoint: string;
  fstype: string;
  readOnly: boolean;
  exec: boolean;
}

export interface SessionOptions {
  /** Directory default mountpoints are made in. */
  mountRoot?: string;
}

type SessionKernel = Pick<Machine, 'blockDevice' | 'mounts' | 'setReadOnly'>;

const hasOption = (entry: MountEntry, option: string): boolean => entry.options.split(',').includes(option);

/**
 * Writable devices this process made read-only (BLKROSET) for a read-only mount, by mountpoint,
 * to make writable again when that mount goes. Process-wide: the app opens a session per action.
 */
const heldReadOnly = new Map<string, { device: string; devno: DevNo; kernel: SessionKernel }>();

/** Give a held device its writability back once nothing has it mounted; the error text if that fails. */
function releaseReadOnly(mountpoint: string): string | undefined {
  const held = heldReadOnly.get(mountpoint);
  if (!held) return undefined;
  heldReadOnly.delete(mountpoint);
  // Mounted elsewhere too (by someone else, necessarily read-only): it stays read-only under them.
  if (held.kernel.mounts.list().some((entry) => sameDevNo(entry.devno, held.devno))) return undefined;
  try {
    held.kernel.setReadOnly(held.device, false);
    return undefined;
  } catch (error) {
    return `${held.device} stays read-only: ${errorText(error)}`;
  }
}

/** Mountpoints the session creates: `<mount root>/<map name>`, the root being `<run dir>/mnt`. */
export function createSession(kernel: SessionKernel, options: SessionOptions = {}) {
  const mountRoot = options.mountRoot ?? kernel.mounts.defaultRoot();

  const defaultMountpoint = (name: string): string => `${mountRoot}/${basename(name)}`;

  const isMountpoint = (path: string): boolean =>
    kernel.mounts.list().some((entry) => entry.target === resolve(path));

  /**
   * mount(2) with `nosuid,nodev` (and `noexec` unless asked): read-only mounts also tell the
   * filesystem not to replay its journal, trying each spelling this kernel may know.
   */
  function mountFilesystem(
    device: string,
    mountpoint: string,
    fstype: string,
    options: { readOnly: boolean; exec: boolean; extra: string[] },
  ): void {
    const choices = options.readOnly ? noReplayOptions(fstype) : [''];
    const { extra, ...flags } = options;
    let first: unknown;
    for (const choice of choices) {
      const data = [choice, ...extra].filter(Boolean).join(',');
      try {
        kernel.mounts.mount(device, mountpoint, fstype, { ...flags, ...(data ? { data } : {}) });
        return;
      } catch (error) {
        first ??= error;
        // Only an option this kernel does not know is worth another spelling.
        if (!(error instanceof KernelError && error.code === 'EINVAL')) break;
      }
    }
    throw first;
  }

  /**
   * Mount a mapped partition; undone completely when any step fails. A read-only mount always sits
   * on a read-only device: a writable map is made read-only (BLKROSET) until it is unmounted.
   */
  function mount(request: MountRequest): MountedPartition {
    const info = kernel.blockDevice(request.device);
    const already = kernel.mounts.list().find((entry) => sameDevNo(entry.devno, info.devno));
    if (already) {
      throw new SessionError(`${request.name} is already mounted on ${already.target}`);
    }
    let fstype = request.fstype;
    if (!fstype) {
      const found = probeFilesystem(request.device, info.sizeBytes);
      if (!found) {
        throw new SessionError(
          `${request.name}: no filesystem recognised on ${request.device}; name its type`,
        );
      }
      fstype = found.mountType;
    }
    // The kernel may load a missing filesystem module on demand: only mention it when mounting fails.
    const known = kernelFilesystems();
    // A read-only map can only be mounted read-only.
    const readOnly = request.readOnly || info.readOnly;
    const exec = request.exec ?? false;
    const mountpoint = resolve(request.mountpoint ?? defaultMountpoint(request.name));
    if (isMountpoint(mountpoint)) throw new SessionError(`${mountpoint} is already a mountpoint`);
    if (request.nestedIn) {
      const problem = nestedMountpointProblem(mountpoint, request.nestedIn);
      if (problem) throw new SessionError(`${request.name}: not mounted: ${problem}`);
    }
    // A mountpoint of our own is made (or accepted) only as a real directory of ours: never through a
    // symlink someone left there. One the caller names is the caller's.
    let created: string | undefined;
    try {
      created = request.nestedIn
        ? undefined
        : request.mountpoint
          ? mkdirSync(mountpoint, { recursive: true, mode: 0o755 })
          : kernel.mounts.makeMountDir(mountpoint, options.mountRoot);
    } catch (error) {
      throw new SessionError(
        `${request.name}: not mounted: ${error instanceof Error ? error.message : error}`,
      );
    }
    const holdReadOnly = readOnly && !info.readOnly;
    try {
      if (holdReadOnly) {
        kernel.setReadOnly(request.device, true);
        heldReadOnly.set(mountpoint, { device: request.device, devno: info.devno, kernel });
      }
      mountFilesystem(request.device, mountpoint, fstype, { readOnly, exec, extra: request.options ?? [] });
    } catch (error) {
      const kept = releaseReadOnly(mountpoint);
      if (created) removeCreatedDirs(mountpoint, created);
      const why = error instanceof Error ? error.message : String(error);
      const hint = known.size > 0 && !known.has(fstype) ? ` (this kernel lists no ${fstype} support)` : '';
      throw new SessionError(
        `${request.name}: cannot mount ${request.device} as ${fstype}: ${why}${hint}${kept ? `; ${kept}` : ''}`,
      );
    }
    return {
      name: request.name,
      device: request.device,
      devno: info.devno,
      mountpoint,
      fstype,
      readOnly,
      exec,
    };
  }

  /** Mounts of these maps (whatever mounted them), in mount order. */
  function listMounted(maps: Pick<ExistingMap, 'name' | 'path' | 'devno'>[]): MountedPartition[] {
    const mounted: MountedPartition[] = [];
    for (const entry of kernel.mounts.list()) {
      const map = maps.find((candidate) => sameDevNo(candidate.devno, entry.devno));
      if (!map) continue;
      mounted.push({
        name: map.name,
        device: map.path,
        devno: entry.devno,
        mountpoint: entry.target,
        fstype: entry.fstype,
        readOnly: hasOption(entry, 'ro'),
        exec: !hasOption(entry, 'noexec'),
      });
    }
    return mounted;
  }

  /**
   * Unmount; a device made read-only for the mount becomes writable again, and a mountpoint the
   * session made under its root is removed again.
   */
  function unmount(mountpoint: string): void {
    const target = resolve(mountpoint);
    if (!isMountpoint(target)) {
      const kept = releaseReadOnly(target);
      throw new SessionError(`${target} is not mounted${kept ? `; ${kept}` : ''}`);
    }
    try {
      kernel.mounts.unmount(target);
    } catch (error) {
      // The kernel's reason alone: the message names the mountpoint once.
      const why =
        error instanceof KernelError && error.errno > 0
          ? strerror(error.errno)
          : error instanceof Error
            ? error.message
            : String(error);
      throw new SessionError(`cannot unmount ${target}: ${why} (is a shell or program still using it?)`);
    }
    const kept = releaseReadOnly(target);
    // Only a mountpoint made directly under the root: one deeper lies inside another mounted
    // filesystem (a guest's /boot), whose directories are never removed.
    if (dirname(target) === resolve(mountRoot) && !isMountpoint(target)) {
      try {
        rmdirSync(target);
      } catch {
        // not empty or already gone: leave it
      }
    }
    if (kept) throw new SessionError(`unmounted ${target}, but ${kept}`);
  }

  return { mount, unmount, listMounted };
}

export type Session = ReturnType<typeof createSession>;

/*
 * Mounting with SIGINT/SIGTERM/SIGHUP held back (see signals.ts): an interrupted mount is unmounted
 * again, and InterruptedError says so afterwards, so the caller exits with 129/130/143.
 */

/** After an interrupted mount: unmount it again. */
export function undoMount(session: Session, mounted: MountedPartition): string {
  session.unmount(mounted.mountpoint);
  return `${mounted.device} was mounted and unmounted again`;
}

/** Why `mountpoint` inside the mounted `outer` cannot be mounted on: it must be a directory there. */
function nestedMountpointProblem(mountpoint: string, outer: string): string | undefined {
  const inside = relative(outer, mountpoint);
  try {
    // A symlink in the guest's tree (`boot -> /etc`) would point the mount at the host's own files.
    if (realpathSync(mountpoint) !== mountpoint)
      return `${inside} in the filesystem mounted on ${outer} is or passes through a symbolic link; not followed`;
    if (lstatSync(mountpoint).isDirectory()) return undefined;
    return `${inside} in the filesystem mounted on ${outer} is not a directory`;
  } catch {
    return `${inside} does not exist in the filesystem mounted on ${outer} (nothing is created inside a mounted filesystem)`;
  }
}

/** mkdirSync(recursive) returns the first directory it created: remove back up to that one. */
function removeCreatedDirs(leaf: string, first: string): void {
  let dir = leaf;
  for (;;) {
    try {
      rmdirSync(dir);
    } catch {
      return;
    }
    if (dir === first) return;
    const parent = resolve(dir, '..');
    if (parent === dir) return;
    dir = parent;
  }
}
