/**
 * The machine the engine works on, as ONE object: paths and files, block devices, loop devices,
 * device-mapper, mounts, the /dev/mapper directory and the per-device locks. The engine and the
 * faces receive it and never ask which one they have: the real one is `createMachine()` in
 * src/kernel/machine.ts, the tests' in-memory one `FakeMachine` in test/support/fake-machine.ts.
 *
 * Types only: this is the engine's single way into the kernel layer (which it imports nothing
 * else from), so the engine can be read and tested without native bindings.
 */
import type { DevNo } from '../io/devno.js';
import type { FileDisk } from '../io/file-disk.js';
import type {
  BlockDeviceInfo,
  BlockFacts,
  CryptApi,
  CryptLibrary,
  DmApi,
  DmMapInfo,
  DmTarget,
  Holder,
  LockSubject,
  LoopApi,
  LoopAttachOptions,
  LoopDevice,
  LuksKey,
  LvmHostFacts,
  MapperEntry,
  MountApi,
  MountEntry,
  MountOptions,
  NbdConnection,
  OverlayApi,
  PathKind,
  XattrApi,
} from '../kernel/types.js';

export type {
  BlockDeviceInfo,
  BlockFacts,
  CryptApi,
  CryptLibrary,
  DmApi,
  DmMapInfo,
  DmTarget,
  Holder,
  LockSubject,
  LoopApi,
  LoopAttachOptions,
  LoopDevice,
  LuksKey,
  LvmHostFacts,
  MapperEntry,
  MountApi,
  MountEntry,
  MountOptions,
  NbdConnection,
  OverlayApi,
  PathKind,
  XattrApi,
};

export interface MachineLoops extends LoopApi {
  /** Bound loop devices, cheaply (the real machine reads sysfs): without their `name`. */
  scan(): LoopDevice[];
  /** Whether loop devices can be attached at all (`/dev/loop-control`). */
  available(): boolean;
  /** Size in bytes and logical sector size of a bound loop device. */
  geometry(loop: LoopDevice): { sizeBytes: number; logicalSectorSize: number };
}

/** VM disk containers presented as block devices by qemu-nbd on /dev/nbdN. */
export interface MachineNbd {
  /** Whether nbd can be used: the module is loaded, or loads now (`modprobe nbd`). */
  available(): boolean;
  /** Connected nbd devices, ours marked. */
  list(): NbdConnection[];
  /**
   * Connect `file` (`format` as qemu names it, never guessed) on a free /dev/nbdN, read-only unless
   * asked otherwise, and record it as ours. Throws an Error saying why it could not.
   */
  connect(file: string, options: { format: string; readOnly: boolean }): Promise<NbdConnection>;
  /** Disconnect `path` (`qemu-nbd --disconnect`) and drop its record. */
  disconnect(path: string): Promise<void>;
}

export interface MachineMounts extends MountApi {
  /** Where default mountpoints are made (`<run dir>/mnt`). */
  defaultRoot(): string;
  /**
   * Make the mountpoint `leaf` directly below `root` (the default root when undefined), refusing
   * symlinks and foreign entries; the first directory made, to remove again if the mount fails.
   */
  makeMountDir(leaf: string, root: string | undefined): string | undefined;
}

export interface NodeOptions {
  /** `-s`: wait for udev; `-n`: do not. */
  sync: boolean;
  /** mode/uid/gid for a node we create come from this device (the parent), as the C tool does. */
  like?: string;
}

/** The /dev/mapper directory: device-mapper nodes, and the loop backend's symlinks. */
export interface MapperDir {
  /** `/dev/mapper` on the real machine. */
  readonly path: string;
  /**
   * Why `<dir>/<name>` cannot be the node of a map (of `devno`, when it exists already): the entry
   * there is not a device node. undefined when the path is free or holds a block node.
   */
  blocker(name: string, devno?: DevNo): string | undefined;
  /** Make sure `<dir>/<name>` is the block node of `devno`; a warning text when it could not. */
  created(name: string, devno: DevNo, options: NodeOptions): Promise<string | undefined>;
  /** The map `devno` is gone: make sure its node is too (a warning text when something else is there). */
  removed(name: string, devno: DevNo, options: NodeOptions): Promise<string | undefined>;
  renamed(from: string, to: string, devno: DevNo, options: NodeOptions): Promise<string | undefined>;
  /** Entry names in the directory, sorted; empty when it does not exist. */
  list(): string[];
  entry(name: string): MapperEntry;
  /** A relative symlink `<dir>/<name>` → `target` (the directory is made when missing). */
  link(name: string, target: string): void;
  unlink(name: string): void;
}

export interface MachineLocks {
  /** Run `work` holding the lock of `subject`, waiting up to `waitMs` for another run; `device` names it in errors. */
  withLock<T>(subject: LockSubject, device: string, work: () => Promise<T>, waitMs?: number): Promise<T>;
  /**
   * Hold the per-image lock (the one the map backends take) while finding or attaching the image's
   * loop, so two runs on one image share one loop.
   */
  lockImage(file: string, device: string): { release(): void };
}

export interface Machine {
  /** stat(2), following symlinks; throws like fs.statSync. */
  stat(path: string): PathKind;
  realpath(path: string): string;
  /** Size of a regular file in bytes. */
  fileSize(path: string): number;
  /** Read `path` (a file or device node) as a Disk of `size` bytes. Throws like fs.openSync. */
  openDisk(path: string, size: number, sectorSize: number): FileDisk;

  /** Size, sector size, number and read-only state of a block device; a KernelError if it is not one. */
  blockDevice(path: string): BlockDeviceInfo;
  /**
   * Number, size, sector size and dm name/UUID of a block device, cheaply (sysfs); undefined when
   * that cannot tell, and blockDevice is asked instead.
   */
  blockFacts(path: string): BlockFacts | undefined;
  /** Device number of a block device node; undefined when `path` is not one. */
  deviceNumber(path: string): DevNo | undefined;
  /** Devices stacked on a device. */
  holders(devno: DevNo): Holder[];
  /** Whether an exclusive open is refused (mounted, swapped on, held by a stacked device). */
  heldExclusively(path: string): boolean;
  /** BLKROSET: make a block device refuse writes (true) or accept them again (false). */
  setReadOnly(path: string, readOnly: boolean): void;

  loop: MachineLoops;
  /** null when this machine has no device-mapper (and it cannot be loaded). */
  readonly dm: DmApi | null;
  /** Whether the kernel has device-mapper, answered cheaply (without opening it). */
  deviceMapperPresent(): boolean;
  /** LUKS: the host's cryptsetup (dm-crypt needs device-mapper: ask deviceMapperPresent too). */
  crypt: CryptApi;
  /** Whether the kernel has nbd (loaded, or its nodes exist), which attaching a VM disk container needs. */
  nbdPresent(): boolean;
  nbd: MachineNbd;
  /** qcow2 overlays over an image (qemu-img create/commit), attached through nbd (workflow/overlay.ts). */
  overlays: OverlayApi;
  /**
   * Whether this kernel can mount `fstype` (`ext4`, `vfat`, `ntfs3`): registered in /proc/filesystems
   * or a loadable module of the running kernel; undefined when that cannot be told.
   */
  filesystemSupported(fstype: string): boolean | undefined;
  /**
   * The types this kernel mounts from a block device (registered without `nodev`, or a block
   * filesystem it can load), sorted: what a user may name for content the probe does not know.
   */
  mountableFilesystems(): string[];
  /** What the host's lvm2 does by itself when a PV appears (its udev rule, event activation, udev). */
  lvmHost(): LvmHostFacts;
  mounts: MachineMounts;
  nodes: MapperDir;
  locks: MachineLocks;
  /** The host's libxcrypt, for a guest's new password hash; null when none loads. */
  hostCrypt(): CryptLibrary | null;
  /** Extended attributes on open descriptors: a shadow file's SELinux label carried to its replacement. */
  xattrs: XattrApi;
}
